// A model's card in the model manager says whether it fits this machine, when a chat last used it,
// and where its folder is; the picker says the same fit.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { buildModel } from '../../tools/model-builder/build-model.ts'
import { expect, startHearth, stopHearth, test } from './fixtures.ts'
import { closeModels, modelPicker, modelsPage, newChat, openModels, replyDone, send, setMaxTokens } from './ui.ts'

// A Hearth of its own: in one shared with other specs the model has been used already.
test.use({ models: { 'card-model': { shape: 'tiny', contextLength: 2048, seed: 11 } } })

test('a model card shows its fit, its last use in a chat, and its folder', async ({ app, hearth }) => {
  await openModels(app)
  const usage = app.getByTestId('library-model').getByTestId('model-usage')
  await expect(usage).toContainText('fits this machine')
  await expect(usage).toContainText('not used in a chat yet')
  // Browser mode cannot open folders on this computer: it offers the path instead.
  await expect(usage.getByRole('button', { name: 'Copy folder path' })).toHaveAttribute('title', path.join(hearth.modelsDir, 'card-model'))
  await closeModels(app)

  await newChat(app)
  await setMaxTokens(app, 4)
  await send(app, 'Hello')
  await replyDone(app)
  await openModels(app)
  await expect(usage).toContainText('last used')
  await expect(usage).not.toContainText('not used in a chat yet')
})

/**
 * A tiny model whose config.json claims this many layers: the fit counts a KV cache per layer, so
 * its estimate grows with them while its files stay small (it is never loaded).
 */
async function modelClaimingLayers(dir: string, layers: number): Promise<void> {
  await buildModel(dir, { shape: 'tiny', contextLength: 2048, seed: 5 })
  const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: layers }))
}

test('a model near this machine’s memory is tight, one past it too big, on its card and in the picker', async ({ page }) => {
  // The tiny shape's cache per layer at 2,048 tokens: keys and values × 2 KV heads × 16 dims × 4 bytes.
  const perLayer = 2 * 2 * 16 * 2048 * 4
  const ram = os.totalmem()
  // 'tight' is between 80% of free RAM and 90% of all of it, whatever is free now: 85% of all RAM
  // (less the runtime's 300 MiB, counted on top) is always there. 'too big' is past all of it.
  const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-e2e-fit-'))
  await modelClaimingLayers(path.join(root, 'models', 'near-model'), Math.floor((0.85 * ram - 300 * 2 ** 20) / perLayer))
  await modelClaimingLayers(path.join(root, 'models', 'past-model'), Math.ceil((2 * ram) / perLayer))
  await buildModel(path.join(root, 'models', 'small-model'), { shape: 'tiny', seed: 6 })
  const server = await startHearth({ dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') })
  try {
    await page.goto(server.url)
    await openModels(page)
    const card = (name: string) => modelsPage(page).getByTestId('library-model').filter({ has: page.getByRole('heading', { name, exact: true }) })
    await expect(card('near-model').getByTestId('model-fit')).toHaveText('fp32 tight on this machine')
    await expect(card('past-model').getByTestId('model-fit')).toHaveText('fp32 too big for this machine')
    await expect(card('small-model').getByTestId('model-fit')).toHaveText('fp32 fits this machine')
    await closeModels(page)

    await newChat(page)
    const picker = modelPicker(page)
    await picker.button.click()
    const option = (name: string) => picker.list.getByRole('option', { name, exact: true })
    await expect(option('near-model').getByTestId('fit')).toHaveText('tight')
    await expect(option('past-model').getByTestId('fit')).toHaveText('too big')
    await expect(option('small-model').getByTestId('fit')).toHaveText('fits')
  } finally {
    await stopHearth(server)
    await rm(root, { recursive: true, force: true })
  }
})
