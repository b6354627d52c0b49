// The models folder is watched (a model copied in by hand shows at once, one removed goes away), and the model manager removes a model.

import { access, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { buildModel } from '../../tools/model-builder/build-model.ts'
import { expect, test } from './fixtures.ts'
import { modelsPage, openModels } from './ui.ts'

test.use({ models: { 'half-copied-model': 'invalid' } })

test('shows a model folder copied in without a reload, drops one removed by hand, and removes one from the model manager after asking', async ({ app, hearth }) => {
  await expect(app.getByTestId('empty-state')).toBeVisible()
  // Built beside the folder and moved in whole, as a copy finishes; then a folder removed by hand.
  const staged = path.join(path.dirname(hearth.modelsDir), 'staged-model')
  await buildModel(staged, { shape: 'tiny', seed: 3 })
  await rename(staged, path.join(hearth.modelsDir, 'copied-model'))
  await expect(app.getByTestId('empty-state')).toBeHidden()
  await openModels(app)
  const manager = modelsPage(app)
  await expect(manager.getByTestId('library-model')).toHaveText(/copied-model/)
  await rm(path.join(hearth.modelsDir, 'half-copied-model'), { recursive: true })
  await expect(manager.getByTestId('library-model-invalid')).toHaveCount(0)

  // Removed from the model manager: asked once more, then its folder is gone.
  await manager.getByRole('button', { name: 'Remove copied-model' }).click()
  await manager.getByRole('group', { name: 'Remove copied-model?' }).getByRole('button', { name: 'Keep' }).click()
  await expect(manager.getByTestId('library-model')).toHaveCount(1)
  await manager.getByRole('button', { name: 'Remove copied-model' }).click()
  await manager.getByRole('group', { name: 'Remove copied-model?' }).getByRole('button', { name: 'Remove' }).click()
  await expect(manager.getByTestId('library-model')).toHaveCount(0)
  await expect(app.getByTestId('toast').filter({ hasText: /Removed copied-model, freeing \d/ })).toBeVisible()
  await expect(access(path.join(hearth.modelsDir, 'copied-model'))).rejects.toThrow()
})
