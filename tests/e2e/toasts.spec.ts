// Toasts as a person meets them: clickable over a modal dialog, never over the message box, and
// never over the transcript's end.

import type { Locator } from '@playwright/test'
import { hearthExport } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { closeSettings, importConversations, messages, newChat, openConversation, openSettings, sidebarItem } from './ui.ts'

async function box(locator: Locator): Promise<{ x: number; y: number; width: number; height: number }> {
  const rect = await locator.boundingBox()
  expect(rect, 'the element is laid out').not.toBeNull()
  return rect!
}

test("a toast's Undo works while Settings is open, and after it closes", async ({ app }) => {
  await importConversations(app, hearthExport([{ title: 'Bird notes', messages: [{ role: 'user', content: 'A wren sang.' }] }]))
  const deleted = app.getByTestId('toast').filter({ hasText: 'Deleted “Bird notes”' })

  await sidebarItem(app, 'Bird notes').hover()
  await sidebarItem(app, 'Bird notes').getByRole('button', { name: 'Delete Bird notes' }).click()
  await expect(sidebarItem(app, 'Bird notes')).toHaveCount(0)
  await openSettings(app)
  // A click only lands on a button the modal has not made inert and nothing covers.
  await deleted.getByRole('button', { name: 'Undo' }).click()
  await expect(sidebarItem(app, 'Bird notes')).toBeVisible()
  await expect(app.getByRole('dialog', { name: 'Settings' })).toBeVisible()
  await closeSettings(app)

  await sidebarItem(app, 'Bird notes').hover()
  await sidebarItem(app, 'Bird notes').getByRole('button', { name: 'Delete Bird notes' }).click()
  await expect(sidebarItem(app, 'Bird notes')).toHaveCount(0)
  await deleted.getByRole('button', { name: 'Undo' }).click()
  await expect(sidebarItem(app, 'Bird notes')).toBeVisible()
})

test('a toast sits above the message box, however tall the box grows', async ({ app }) => {
  await newChat(app)
  const textbox = app.getByRole('textbox', { name: 'Message' })
  await textbox.fill('First line\nSecond line\nThird line\nFourth line')
  // More files than a message carries: chips fill the box, and a toast says what was left out.
  await app.getByLabel('Files to attach').setInputFiles(Array.from({ length: 11 }, (_, i) => ({ name: `note-${i}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`Note ${i}.`) })))
  const toast = app.getByTestId('toast').filter({ hasText: '1 was not attached' })
  await expect(toast).toBeVisible()
  // Polled: the chips and the toast's place above them settle over a few frames.
  await expect(async () => {
    const composer = await box(app.locator('form').filter({ has: textbox }))
    const notice = await box(toast)
    expect(notice.y + notice.height, 'the toast ends above the message box').toBeLessThanOrEqual(composer.y)
  }).toPass({ timeout: 5_000 })
  await toast.getByRole('button', { name: 'Dismiss' }).click()
  await expect(toast).toHaveCount(0)
})

test("a toast keeps the transcript's end in view above it, and gives the room back when it goes", async ({ app }) => {
  const turns = Array.from({ length: 8 }, (_, i) => [
    { role: 'user' as const, content: `Question ${i}: ${'how do wrens nest? '.repeat(12)}` },
    { role: 'assistant' as const, content: `Answer ${i}: ${'in hedges and holes. '.repeat(20)}` },
  ]).flat()
  await importConversations(app, hearthExport([{ title: 'Long wren chat', messages: turns }]))
  await openConversation(app, 'Long wren chat')
  const last = messages(app).last()
  await expect(last).toContainText('Answer 7')
  const list = app.getByTestId('message-list')
  // Scrolled to the end, as a chat opens.
  await expect.poll(() => list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(2)

  await app.getByLabel('Files to attach').setInputFiles(Array.from({ length: 11 }, (_, i) => ({ name: `wren-${i}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`Wren ${i}.`) })))
  const toast = app.getByTestId('toast').filter({ hasText: '1 was not attached' })
  await expect(toast).toBeVisible()
  // The end follows the room the toast takes: the last reply ends above the notice, not under it.
  await expect.poll(async () => (await box(toast)).y - ((await box(last)).y + (await box(last)).height)).toBeGreaterThanOrEqual(0)

  const withToast = await list.evaluate((el) => el.scrollHeight)
  await toast.getByRole('button', { name: 'Dismiss' }).click()
  await expect(toast).toHaveCount(0)
  await expect.poll(() => list.evaluate((el) => el.scrollHeight)).toBeLessThan(withToast)
})
