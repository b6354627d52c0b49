// Browser mode's link to Hearth: a page whose Hearth went away says so, instead of "Connecting…" forever.

import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { expect, test } from '@playwright/test'
import { buildModel } from '../../tools/model-builder/build-model.ts'
import { startHearth, stopHearth } from './fixtures.ts'

test('says it is reconnecting when Hearth stops, then that the link is lost and what to do', async ({ page }) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-e2e-link-'))
  await buildModel(path.join(root, 'models', 'tiny'), { shape: 'tiny', seed: 5 })
  const server = await startHearth({ dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') })
  try {
    await page.goto(server.url)
    await expect(page.getByRole('main')).toHaveAttribute('aria-busy', 'false')
    await expect(page.getByTestId('connection')).toHaveCount(0)
    await stopHearth(server)
    await expect(page.getByTestId('connection')).toContainText('Reconnecting to Hearth')
    await expect(page.getByTestId('connection')).toContainText('Lost the connection to Hearth')
    await expect(page.getByTestId('connection').getByRole('button', { name: 'Reload' })).toBeVisible()
  } finally {
    await rm(root, { recursive: true, force: true })
  }
})

test('a page opened with a stale access token says so once, in the page, with no banner over it', async ({ page }) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-e2e-token-'))
  const server = await startHearth({ dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') })
  try {
    const stale = new URL(server.url)
    stale.searchParams.set('token', 'from-an-earlier-run')
    await page.goto(stale.toString())
    await expect(page.getByRole('alert')).toContainText('it carries the access token')
    await expect(page.getByTestId('connection')).toHaveCount(0)
  } finally {
    await stopHearth(server)
    await rm(root, { recursive: true, force: true })
  }
})
