// A first run with no usable model: the empty state says exactly how to get one, and why a folder failed.

import { expect, test } from './fixtures.ts'
import { shoot } from './ui.ts'

test.use({ models: { 'half-copied-model': 'invalid' } })

test('tells a new user where models go, the download command, and why a folder is not usable', async ({ app, hearth }) => {
  await app.setViewportSize({ width: 1280, height: 800 })
  await expect(app.getByTestId('empty-state')).toBeVisible()
  await expect(app.getByTestId('models-dir')).toHaveText(hearth.modelsDir)
  await expect(app.getByTestId('download-command')).toContainText('npm run models -- download ')
  await expect(app.getByRole('note')).toContainText('half-copied-model')
  await shoot(app, 'empty')
})
