// A 60 MB ChatGPT export imported through Settings in browser mode: it travels to main in chunks
// (one frame of it would be over the bridge's limit), shows its progress, and lands whole.

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { largeChatGptExport } from '../unit/store/fixtures/large-export.ts'
import { expect, startHearth, stopHearth, test, type HearthServer } from './fixtures.ts'
import { openConversation, openSettings } from './ui.ts'

// A server of its own: six hundred conversations must not reach the other specs' lists.
let root: string
let hearth: HearthServer

test.beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-e2e-import-'))
  hearth = await startHearth({ dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') })
})

test.afterAll(async () => {
  await stopHearth(hearth)
  await rm(root, { recursive: true, force: true })
})

test('imports a 60 MB conversations.json, showing how far it has got, and every conversation opens', async ({ page }) => {
  test.setTimeout(180_000)
  // Over Playwright's limit for a file handed over from memory: it goes by path, as a picked file does.
  const file = path.join(root, 'conversations.json')
  await writeFile(file, largeChatGptExport({ conversations: 600, messagesPerConversation: 10, messageBytes: 10_000 }))

  await page.goto(hearth.url)
  await expect(page.getByRole('main')).toHaveAttribute('aria-busy', 'false')
  await openSettings(page, 'General')
  await page.getByLabel('Import conversations from a file').setInputFiles(file)
  await expect(page.getByRole('status').filter({ hasText: /Writing [\d,]+ of 6,000 messages…/ })).toBeVisible({ timeout: 60_000 })
  await expect(page.getByTestId('toast').filter({ hasText: 'Imported 600 conversations (6000 messages).' })).toBeVisible({ timeout: 120_000 })
  expect(hearth.process.exitCode).toBeNull()

  await page.getByRole('button', { name: 'Close settings' }).click()
  await openConversation(page, 'Conversation 600')
  await expect(page.getByText(/^c599m9 /)).toBeVisible()
})
