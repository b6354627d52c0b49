// The model manager's Downloads tab: a download paused part-way is listed with how far it got, resumes from
// there (the hub is asked only for the rest), and installs.

import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { expect, test } from '@playwright/test'
import { buildModel } from '../../tools/model-builder/build-model.ts'
import { startFakeHub } from '../unit/models/fake-hub.ts'
import { startHearth, stopHearth } from './fixtures.ts'
import { modelsPage, openModels } from './ui.ts'

test('pauses a download part-way, lists it as paused, and resumes it from where it stopped', async ({ page }) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-e2e-downloads-'))
  await buildModel(path.join(root, 'hub-model'), { q4: true })
  const hub = await startFakeHub(path.join(root, 'hub-model'), { repo: 'test-org/tiny-chat-ONNX' })
  await mkdir(path.join(root, 'models'), { recursive: true })
  const server = await startHearth({ dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') }, [], { HF_ENDPOINT: hub.endpoint })
  const DATA = 'onnx/model_q4.onnx_data'
  try {
    // The weights stop coming after 4,000 bytes until the client leaves.
    const held = hub.holdOnce(DATA, 4000)
    await page.goto(server.url)
    await openModels(page, 'Discover')
    const manager = modelsPage(page)
    const discover = manager.getByRole('region', { name: /find one on the Hugging Face Hub/i })
    await discover.getByRole('searchbox', { name: 'Search the Hub for models' }).fill('tiny')
    await discover.getByRole('button', { name: 'Search' }).click()
    await discover.getByRole('button', { name: /test-org\/tiny-chat-ONNX/ }).click()
    await discover.locator('[data-testid="hub-variant"][data-variant="q4"]').getByRole('button', { name: 'Download' }).click()
    await held

    // The Downloads tab counts the one running, and lists it.
    const tab = manager.getByRole('tab', { name: /^Downloads/ })
    await expect(tab).toHaveAccessibleName(/^Downloads\W+1 active$/)
    await openModels(page, 'Downloads')
    const row = manager.getByTestId('downloads').getByTestId('download')
    await expect(row).toHaveAttribute('data-state', 'downloading')
    await row.getByRole('button', { name: 'Pause' }).click()
    await expect(row).toHaveAttribute('data-state', 'paused')
    await expect(row).toContainText(/Paused at [\d.]+ KB of [\d.]+ KB/)
    await expect(manager.getByTestId('active-downloads')).toHaveCount(0)

    await row.getByRole('button', { name: 'Resume' }).click()
    await expect(row).toHaveCount(0, { timeout: 60_000 })
    await openModels(page, 'Installed')
    await expect(manager.getByTestId('library-model')).toContainText('test-org--tiny-chat-ONNX')
    // The resumed transfer asked only for the bytes it did not have.
    const ranges = hub.requests.filter((r) => r.url.endsWith(encodeURIComponent(DATA)) || r.url.endsWith(DATA)).map((r) => r.range)
    expect(ranges.at(-1)).toMatch(/^bytes=[1-9]\d*-$/)
  } finally {
    await stopHearth(server)
    await hub.close()
    await rm(root, { recursive: true, force: true })
  }
})
