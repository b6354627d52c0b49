// Discover: a user with no model searches a Hub-like server, sees only what Hearth can run with
// each variant's size and fit, and downloads one, which is then installed and chosen for chats.

import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { expect, test } from '@playwright/test'
import { buildModel } from '../../tools/model-builder/build-model.ts'
import { startFakeHub } from '../unit/models/fake-hub.ts'
import { startHearth, stopHearth } from './fixtures.ts'
import { modelsPage, openModels } from './ui.ts'

test('searches the Hub, shows only runnable models with each variant’s size and fit, and downloads one', async ({ page }) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-e2e-discover-'))
  await buildModel(path.join(root, 'hub-model'), { q4: true })
  const hub = await startFakeHub(path.join(root, 'hub-model'), {
    repo: 'test-org/tiny-chat-ONNX',
    others: [{ id: 'test-org/tiny-chat-pytorch', files: ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'] }],
  })
  await mkdir(path.join(root, 'models'), { recursive: true })
  const server = await startHearth({ dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') }, [], { HF_ENDPOINT: hub.endpoint })
  try {
    await page.goto(server.url)
    const discover = page.getByRole('region', { name: /find one on the Hugging Face Hub/i })
    await discover.getByRole('searchbox', { name: 'Search the Hub for models' }).fill('nothing-like-this')
    await discover.getByRole('button', { name: 'Search' }).click()
    await expect(discover.getByRole('status')).toContainText('No runnable model matches “nothing-like-this”')

    await discover.getByRole('searchbox', { name: 'Search the Hub for models' }).fill('tiny-chat')
    await discover.getByRole('button', { name: 'Search' }).click()
    const results = discover.getByTestId('hub-result')
    // The PyTorch-only repository is left out: Hearth could not run it.
    await expect(results).toHaveCount(1)
    await expect(results.first()).toContainText('test-org/tiny-chat-ONNX')
    await expect(results.first()).toContainText('q4, fp32')

    await results.first().getByRole('button', { name: /test-org\/tiny-chat-ONNX/ }).click()
    const q4 = results.first().locator('[data-testid="hub-variant"][data-variant="q4"]')
    await expect(q4).toContainText(/\d+(\.\d+)? (KB|MB)/)
    await expect(q4).toContainText('fits this machine')
    await q4.getByRole('button', { name: 'Download' }).click()
    // Installed, the model takes the place of the first-run screen…
    await expect(discover).toBeHidden({ timeout: 60_000 })
    // …and the model manager lists it, and its Discover says so.
    await openModels(page)
    await expect(modelsPage(page).getByTestId('library-model')).toContainText('test-org--tiny-chat-ONNX')
    await openModels(page, 'Discover')
    const again = modelsPage(page).getByRole('region', { name: /find one on the Hugging Face Hub/i })
    await again.getByRole('searchbox', { name: 'Search the Hub for models' }).fill('tiny')
    await again.getByRole('button', { name: 'Search' }).click()
    await again.getByRole('button', { name: /test-org\/tiny-chat-ONNX/ }).click()
    await expect(again.locator('[data-testid="hub-variant"][data-variant="q4"]')).toContainText('Installed')
  } finally {
    await stopHearth(server)
    await hub.close()
    await rm(root, { recursive: true, force: true })
  }
})
