// The sidebar as a person uses it: rename in place, pin, archive, delete and undo, search and jump.

import { hearthExport, type FileConversation } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { importConversations, openConversation, sidebarItem } from './ui.ts'

function longChat(title: string, turns: number, needleAt: number): FileConversation {
  const messages: FileConversation['messages'] = []
  for (let i = 0; i < turns; i++) {
    messages.push({ role: 'user', content: i === needleAt ? 'Tell me about the quokka on Rottnest.' : `Question number ${i}?` })
    messages.push({ role: 'assistant', content: `Answer number ${i}, with a little **markdown** to render.` })
  }
  return { title, messages }
}

test.describe.configure({ mode: 'serial' })

test('renames, pins and archives a conversation, and all of it survives a reload', async ({ app }) => {
  await importConversations(app, hearthExport([{ title: 'Garden plans', messages: [{ role: 'user', content: 'Tomatoes or peppers?' }] }]))
  const item = sidebarItem(app, 'Garden plans')

  await item.hover()
  await item.getByRole('button', { name: 'Rename Garden plans' }).click()
  const input = app.getByRole('textbox', { name: 'New title for Garden plans' })
  await expect(input).toBeFocused()
  await input.fill('Vegetable garden')
  await input.press('Enter')
  const renamed = sidebarItem(app, 'Vegetable garden')
  await expect(renamed).toBeVisible()

  await renamed.hover()
  await renamed.getByRole('button', { name: 'Pin Vegetable garden' }).click()
  const pinned = app.getByRole('region', { name: 'Pinned' })
  await expect(pinned.getByRole('button', { name: 'Vegetable garden', exact: true })).toBeVisible()

  await app.reload()
  await expect(app.getByRole('region', { name: 'Pinned' }).getByRole('button', { name: 'Vegetable garden', exact: true })).toBeVisible()

  await sidebarItem(app, 'Vegetable garden').hover()
  await sidebarItem(app, 'Vegetable garden').getByRole('button', { name: 'Archive Vegetable garden' }).click()
  await expect(sidebarItem(app, 'Vegetable garden')).toHaveCount(0)
  // Archiving can be undone at once, as deleting can.
  const toast = app.getByTestId('toast').filter({ hasText: 'Archived “Vegetable garden”' })
  await toast.getByRole('button', { name: 'Undo' }).click()
  await expect(sidebarItem(app, 'Vegetable garden')).toBeVisible()
  await sidebarItem(app, 'Vegetable garden').hover()
  await sidebarItem(app, 'Vegetable garden').getByRole('button', { name: 'Archive Vegetable garden' }).click()
  await expect(sidebarItem(app, 'Vegetable garden')).toHaveCount(0)
  await app.getByRole('button', { name: 'Archived' }).click()
  await expect(app.getByRole('heading', { name: 'Archived' })).toBeVisible()
  const archived = sidebarItem(app, 'Vegetable garden')
  await expect(archived).toBeVisible()
  await archived.hover()
  await archived.getByRole('button', { name: 'Unarchive Vegetable garden' }).click()
  await app.getByRole('button', { name: 'Back to conversations' }).click()
  await expect(sidebarItem(app, 'Vegetable garden')).toBeVisible()
})

test('deletes with an undo that brings the conversation back, and without it for good', async ({ app }) => {
  await importConversations(
    app,
    hearthExport([
      { title: 'Keep me', messages: [{ role: 'user', content: 'Hello' }] },
      { title: 'Drop me', messages: [{ role: 'user', content: 'Bye' }] },
    ]),
  )
  await expect(app.getByTestId('toast').filter({ hasText: 'Imported 2 conversations (2 messages).' })).toBeVisible()
  await openConversation(app, 'Keep me')
  await sidebarItem(app, 'Keep me').hover()
  await sidebarItem(app, 'Keep me').getByRole('button', { name: 'Delete Keep me' }).click()
  await expect(sidebarItem(app, 'Keep me')).toHaveCount(0)
  await expect(app.getByRole('heading', { level: 1, name: 'Keep me' })).toBeHidden()
  const toast = app.getByTestId('toast').filter({ hasText: 'Deleted “Keep me”' })
  await toast.getByRole('button', { name: 'Undo' }).click()
  await expect(sidebarItem(app, 'Keep me')).toBeVisible()

  await sidebarItem(app, 'Drop me').hover()
  await sidebarItem(app, 'Drop me').getByRole('button', { name: 'Delete Drop me' }).click()
  await expect(sidebarItem(app, 'Drop me')).toHaveCount(0)

  await app.reload()
  await expect(sidebarItem(app, 'Keep me')).toBeVisible()
  await expect(sidebarItem(app, 'Drop me')).toHaveCount(0)
})

test('finds a message by full-text search and jumps to it, far up a long chat', async ({ app }) => {
  await importConversations(app, hearthExport([longChat('Travel questions', 150, 3), { title: 'Other', messages: [{ role: 'user', content: 'Unrelated' }] }]))
  await openConversation(app, 'Other')

  await app.keyboard.press('Control+k')
  const search = app.getByRole('searchbox', { name: 'Search messages' })
  await expect(search).toBeFocused()
  await search.fill('quokka')
  const hit = app.getByTestId('search-hit')
  await expect(hit).toHaveCount(1)
  await expect(hit.locator('mark')).toHaveText(/quokka/i)
  await expect(hit).toContainText('Travel questions')
  await hit.click()

  await expect(app.getByRole('heading', { level: 1, name: 'Travel questions' })).toBeVisible()
  const target = app.getByTestId('message').filter({ hasText: 'Tell me about the quokka on Rottnest.' })
  await expect(target).toBeInViewport()
  await expect(target).toHaveClass(/highlighted/)
})

test('finds messages by the start of a word and conversations by title, and opens either', async ({ app }) => {
  await importConversations(
    app,
    hearthExport([
      { title: 'Dragon lore', messages: [{ role: 'user', content: 'Tell me a story.' }] },
      { title: 'Insects', messages: [{ role: 'user', content: 'Is a dragonfly fast?' }, { role: 'assistant', content: 'Very.' }] },
      { title: 'Cooking', messages: [{ role: 'user', content: 'How long do I braise the brisket?' }] },
    ]),
  )
  await openConversation(app, 'Cooking')
  const search = app.getByRole('searchbox', { name: 'Search messages' })
  const hits = app.getByTestId('search-hit')

  await search.fill('drag')
  await expect(hits).toHaveCount(2)
  await expect(hits.first()).toHaveAttribute('data-kind', 'title')
  await expect(hits.first().locator('mark')).toHaveText('Dragon')
  await expect(hits.nth(1)).toHaveAttribute('data-kind', 'message')
  await expect(hits.nth(1)).toContainText('Insects')
  await expect(hits.nth(1).locator('mark')).toHaveText('dragonfly')
  await hits.first().click()
  await expect(app.getByRole('heading', { level: 1, name: 'Dragon lore' })).toBeVisible()
  await expect(app.getByRole('textbox', { name: 'Message' })).toBeFocused()

  await search.fill('bris how')
  await expect(hits).toHaveCount(1)
  await expect(hits.locator('mark')).toHaveText(['How', 'brisket'])
  await hits.click()
  await expect(app.getByRole('heading', { level: 1, name: 'Cooking' })).toBeVisible()
  await expect(app.getByTestId('message').filter({ hasText: 'braise the brisket' })).toHaveClass(/highlighted/)

  await search.fill('lore NEAR(" -story')
  await expect(app.getByRole('status').filter({ hasText: 'Nothing matches' })).toBeVisible()
})

test('keeps the list one tab stop: arrow keys move between chats and along a chat’s buttons', async ({ app }) => {
  await importConversations(
    app,
    hearthExport(['Alpha', 'Bravo', 'Charlie'].map((title) => ({ title, messages: [{ role: 'user' as const, content: `About ${title}` }] }))),
  )
  const rows = app.getByTestId('conversation-item')
  const open = (title: string) => rows.filter({ hasText: title }).getByRole('button', { name: title, exact: true })
  await app.getByRole('searchbox', { name: 'Search messages' }).focus()
  await app.keyboard.press('Tab')
  // A row's title button has the list's tab stop (the open chat's, here the last imported).
  await expect(rows.locator('button.open:focus')).toHaveCount(1)
  const first = (await rows.locator('button.open:focus').textContent())!.trim()
  // One Tab more leaves the list, whatever its length.
  await app.keyboard.press('Tab')
  await expect(rows.locator(':focus')).toHaveCount(0)
  await app.keyboard.press('Shift+Tab')
  await expect(open(first)).toBeFocused()

  await app.keyboard.press('Home')
  const top = (await rows.first().getByRole('button').first().textContent())!.trim()
  await expect(open(top)).toBeFocused()
  await app.keyboard.press('ArrowDown')
  const second = (await rows.nth(1).getByRole('button').first().textContent())!.trim()
  await expect(open(second)).toBeFocused()
  await app.keyboard.press('ArrowRight')
  await expect(app.getByRole('button', { name: `Rename ${second}` })).toBeFocused()
  for (let i = 0; i < 5; i++) await app.keyboard.press('ArrowRight')
  await expect(app.getByRole('button', { name: `Delete ${second}` })).toBeFocused()
  await app.keyboard.press('Escape')
  await expect(open(second)).toBeFocused()
  await app.keyboard.press('End')
  await expect(rows.last().getByRole('button').first()).toBeFocused()
  // The tab stop stays where the arrows left it.
  await app.getByRole('searchbox', { name: 'Search messages' }).focus()
  await app.keyboard.press('Tab')
  await expect(rows.last().getByRole('button').first()).toBeFocused()
})
