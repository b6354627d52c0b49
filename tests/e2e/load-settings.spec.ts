// A model's load settings on its card in the model manager: the fit estimate follows the fields, a load uses
// them (context, variant, KV cache type), and a change for the loaded model waits for the next
// load (or Reload now).

import { expect, test } from './fixtures.ts'
import { closeModels, modelsPage, newChat, openModels } from './ui.ts'

test.use({ models: { 'tiny-q4': { shape: 'tiny', q4: true, contextLength: 4096, seed: 8 } } })

test('loads a model with the context, variant and cache type set for it, the fit estimate following each change', async ({ app }) => {
  await openModels(app)
  const card = modelsPage(app).getByTestId('library-model').filter({ hasText: 'tiny-q4' })
  await card.getByText('Load settings').click()
  const fit = card.getByTestId('load-fit')
  // Automatic: the best variant for this machine at the model's whole context.
  await expect(fit).toContainText('at 4,096 tokens needs about')

  await card.getByLabel('Variant for tiny-q4').selectOption('q4')
  await expect(fit).toContainText('q4 at 4,096 tokens')
  const q4Whole = await fit.innerText()
  await card.getByLabel('Context length for tiny-q4').fill('1024')
  await expect(fit).toContainText('q4 at 1,024 tokens')
  // A quarter of the context is a quarter of the KV cache: the estimate is not the one before.
  const q4Quarter = await fit.innerText()
  expect(q4Quarter).not.toEqual(q4Whole)
  await card.getByLabel('Context length for tiny-q4').press('Tab')
  await card.getByLabel('KV cache type for tiny-q4').selectOption('float16')
  await expect(fit).not.toHaveText(q4Quarter)
  await expect(fit).toContainText('q4 at 1,024 tokens')

  await card.getByRole('button', { name: 'Load', exact: true }).click()
  await expect(card).toContainText('Loaded · q4 · CPU', { timeout: 30_000 })
  await expect(card.getByRole('status')).toHaveCount(0)
  await closeModels(app)

  await newChat(app)
  const chip = app.getByTestId('engine-status').getByRole('button', { name: /CPU · q4/ })
  await chip.click()
  const details = app.getByRole('region', { name: 'Execution provider details' })
  await expect(details).toContainText('tiny-q4 · q4 · 1,024 tokens of context')
  await details.getByText('Engine details', { exact: true }).click()
  await expect(details).toContainText('KV cache in float16')
  await chip.click()

  // Changed while loaded: said to wait for the next load, which Reload now starts.
  await openModels(app)
  await card.getByText('Load settings').click()
  await expect(card.getByLabel('Context length for tiny-q4')).toHaveValue('1024')
  await card.getByLabel('Context length for tiny-q4').fill('2048')
  await card.getByLabel('Context length for tiny-q4').press('Tab')
  const stale = card.getByRole('status')
  await expect(stale).toContainText('Loaded with other settings: these apply from the next load.')
  await stale.getByRole('button', { name: 'Reload now' }).click()
  await expect(stale).toHaveCount(0, { timeout: 30_000 })
  await expect(card).toContainText('Loaded · q4 · CPU')
  await closeModels(app)
  await app.getByTestId('engine-status').getByRole('button', { name: /CPU · q4/ }).click()
  await expect(app.getByRole('region', { name: 'Execution provider details' })).toContainText('tiny-q4 · q4 · 2,048 tokens of context')
})
