// A download that fails says so under the model, with the hub's reason, and offers a retry.

import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { expect, test } from '@playwright/test'
import { startHearth, stopHearth } from './fixtures.ts'

test('says why a download failed (the hub cannot be reached) instead of showing Download again', async ({ page }) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-e2e-offline-'))
  await mkdir(path.join(root, 'models'), { recursive: true })
  // Nothing listens on port 9 here: every request to the hub is refused at once, as offline.
  const server = await startHearth({ dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') }, [], { HF_ENDPOINT: 'http://127.0.0.1:9' })
  try {
    await page.goto(server.url)
    const item = page.getByRole('region', { name: /download one here/i }).getByRole('listitem').first()
    await item.getByRole('button', { name: 'Download' }).click()
    const alert = item.getByRole('alert')
    await expect(alert).toContainText('did not download')
    await expect(alert).toContainText('Cannot reach the model hub at http://127.0.0.1:9')
    await expect(item.getByRole('button', { name: 'Retry' })).toBeVisible()
  } finally {
    await stopHearth(server)
    await rm(root, { recursive: true, force: true })
  }
})
