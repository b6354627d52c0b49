// The models folder is watched (a model copied in by hand shows at once, one removed goes away), and Settings removes a model.

import { access, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { buildModel } from '../../tools/model-builder/build-model.ts'
import { expect, test } from './fixtures.ts'
import { openSettings } from './ui.ts'

test.use({ models: { 'half-copied-model': 'invalid' } })

test('shows a model folder copied in without a reload, drops one removed by hand, and removes one from Settings after asking', async ({ app, hearth }) => {
  await expect(app.getByTestId('empty-state')).toBeVisible()
  // Built beside the folder and moved in whole, as a copy finishes; then a folder removed by hand.
  const staged = path.join(path.dirname(hearth.modelsDir), 'staged-model')
  await buildModel(staged, { shape: 'tiny', seed: 3 })
  await rename(staged, path.join(hearth.modelsDir, 'copied-model'))
  await expect(app.getByTestId('empty-state')).toBeHidden()
  await openSettings(app, 'Models')
  const dialog = app.getByRole('dialog', { name: 'Settings' })
  await expect(dialog.getByTestId('library-model')).toHaveText(/copied-model/)
  await rm(path.join(hearth.modelsDir, 'half-copied-model'), { recursive: true })
  await expect(dialog.getByTestId('library-model-invalid')).toHaveCount(0)

  // Removed from Settings: asked once more, then its folder is gone.
  await dialog.getByRole('button', { name: 'Remove copied-model' }).click()
  await dialog.getByRole('group', { name: 'Remove copied-model?' }).getByRole('button', { name: 'Keep' }).click()
  await expect(dialog.getByTestId('library-model')).toHaveCount(1)
  await dialog.getByRole('button', { name: 'Remove copied-model' }).click()
  await dialog.getByRole('group', { name: 'Remove copied-model?' }).getByRole('button', { name: 'Remove' }).click()
  await expect(dialog.getByTestId('library-model')).toHaveCount(0)
  await expect(app.getByTestId('toast').filter({ hasText: /Removed copied-model, freeing \d/ })).toBeVisible()
  await expect(access(path.join(hearth.modelsDir, 'copied-model'))).rejects.toThrow()
})
