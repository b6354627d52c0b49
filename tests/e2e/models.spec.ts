// The model picker (what the library found, load and unload, the provider in use said out loud) and the context notices.

import { hearthExport, SAMPLE_STATS } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { closeModels, importConversations, modelsPage, newChat, openConversation, openModels, pickModel } from './ui.ts'

test.use({ models: { 'tiny-chat': { shape: 'tiny', contextLength: 4096, seed: 7 }, 'tiny-q4': { shape: 'tiny', q4: true, seed: 8 }, 'no-weights': 'invalid' } })

test('lists usable models with their variants and unusable ones with the reason; loads and unloads', async ({ app }) => {
  await openModels(app)
  const manager = modelsPage(app)
  await expect(manager.getByTestId('library-model')).toHaveCount(2)
  await expect(manager.getByRole('list', { name: 'Variants of tiny-q4' })).toContainText('q4')
  await expect(manager.getByRole('list', { name: 'Variants of tiny-q4' })).toContainText('fp32')
  await expect(manager.getByTestId('library-model-invalid')).toContainText('no-weights')
  await expect(manager.getByTestId('library-model-invalid')).toContainText('Not usable:')

  const q4 = manager.getByTestId('library-model').filter({ hasText: 'tiny-q4' })
  await q4.getByRole('button', { name: 'Load tiny-q4 q4' }).click()
  await expect(q4).toContainText('Loaded · q4 · CPU', { timeout: 30_000 })
  await expect(q4.getByRole('list', { name: 'Variants of tiny-q4' })).toContainText('in use')
  await q4.getByRole('button', { name: 'Unload' }).click()
  await expect(q4.getByRole('button', { name: 'Load', exact: true })).toBeVisible()
  await closeModels(app)
})

test('shows the provider in use in the chat header, why the others were not used, and switches the model', async ({ app }) => {
  await newChat(app)
  await pickModel(app, 'tiny-chat')
  const status = app.getByTestId('engine-status')
  await status.getByRole('button', { name: 'Load model' }).or(status.getByRole('button', { name: 'Load tiny-chat' })).click()
  const chip = status.getByRole('button', { name: /CPU · fp32/ })
  await expect(chip).toBeVisible({ timeout: 30_000 })
  await chip.click()
  const details = app.getByRole('region', { name: 'Execution provider details' })
  await expect(details).toContainText('tiny-chat')
  await expect(details).toContainText('CPU: in use')
  await details.getByText('Engine details', { exact: true }).click()
  // The engine rewrote the graph at load and verified it: steps update the cache in place.
  await expect(details.getByTestId('kv-update')).toHaveText('KV cache updated in place')
  // ... and fused runs of small kernels into one (the tiny model has 2 layers).
  await expect(details.getByTestId('fusions')).toHaveText('Fused into single kernels: rotary embedding ×4, residual add + RMSNorm ×4')
  // Every provider tried before the CPU is listed with its reason; on a GPU-less machine that is a loud fallback.
  const failed = await details.locator('li.bad').count()
  if (failed > 0) {
    // Said once, in a line; after "Got it" the chip carries it, also after a reload.
    const notice = app.getByTestId('cpu-fallback')
    await expect(notice).toContainText('Running on the CPU')
    await expect(details.locator('li.bad').first()).toContainText('not used —')
    await notice.getByRole('button', { name: 'Got it' }).click()
    await expect(notice).toHaveCount(0)
    await app.reload()
    // The model is still loaded: a new chat on it shows the chip again, and not the notice.
    await newChat(app)
    await pickModel(app, 'tiny-chat')
    await expect(app.getByTestId('engine-status').getByRole('button', { name: /CPU · fp32/ })).toBeVisible()
    await expect(app.getByTestId('cpu-fallback')).toHaveCount(0)
  }

  await pickModel(app, 'tiny-q4')
  await status.getByRole('button', { name: 'Load tiny-q4' }).click()
  await expect(status.getByRole('button', { name: /CPU · q4/ })).toBeVisible({ timeout: 30_000 })
})

test('says when older turns were dropped to fit the context, on the reply and on the meter', async ({ app }) => {
  await importConversations(
    app,
    hearthExport([
      {
        title: 'Long ago',
        messages: [
          { role: 'user', content: 'One' },
          { role: 'assistant', content: 'Two', stats: SAMPLE_STATS },
          { role: 'user', content: 'Three' },
          { role: 'assistant', content: 'Four', stats: { ...SAMPLE_STATS, droppedMessages: [0, 1] } },
        ],
      },
    ]),
  )
  await openConversation(app, 'Long ago')
  await expect(app.getByTestId('dropped-notice')).toHaveCount(1)
  await expect(app.getByTestId('dropped-notice')).toContainText('2 older messages were left out')
  await expect(app.getByTestId('context-dropped')).toBeVisible()
})
