// Folders in the sidebar: made and named, a chat dragged in and out or moved with the keyboard,
// collapse kept across a reload, a new chat there from the folder's preset, search within one,
// deleting one keeping its chats (and undoing it), and folders put in order by drag or keyboard.

import type { Page } from '@playwright/test'
import { hearthExport } from './conversation-file.ts'
import { CHAT_MODEL, expect, test } from './fixtures.ts'
import { closeSettings, importConversations, openSettings, replyDone, send, sidebarItem } from './ui.ts'

// A Hearth of its own: the unfiled list is asserted whole, and other specs leave chats in a shared one.
test.use({ models: { 'folder-chat': CHAT_MODEL['tiny-chat']! } })

const folder = (page: Page, name: string) => page.getByRole('region', { name, exact: true })
const folderToggle = (page: Page, name: string) => folder(page, name).getByTestId('folder-row').locator('button.open')

async function folderAction(page: Page, name: string, action: string): Promise<void> {
  await folder(page, name).getByTestId('folder-row').hover()
  await page.getByRole('button', { name: action, exact: true }).click()
}

test('groups chats in a folder: drag in and out, collapse, new chat from its preset, search in it, delete it', async ({ app }) => {
  await importConversations(
    app,
    hearthExport([
      { title: 'Boat plans', messages: [{ role: 'user', content: 'Where should the sloop moor tonight?' }] },
      { title: 'Garden notes', messages: [{ role: 'user', content: 'A sloop of the hill faces south.' }] },
    ]),
  )
  await openSettings(app, 'Presets')
  const dialog = app.getByRole('dialog', { name: 'Settings' })
  await dialog.getByRole('button', { name: 'New preset' }).click()
  const preset = dialog.getByTestId('preset')
  await preset.getByRole('textbox', { name: 'Name' }).fill('Pirate')
  await preset.getByRole('textbox', { name: 'Name' }).press('Tab')
  await preset.getByRole('textbox', { name: 'System prompt' }).fill('Talk like a pirate.')
  await preset.getByRole('textbox', { name: 'System prompt' }).press('Tab')
  await preset.getByRole('button', { name: 'Done' }).click()
  await closeSettings(app)

  // A new folder opens in rename.
  await app.getByRole('button', { name: 'New folder' }).click()
  const rename = app.getByRole('textbox', { name: 'New name for the folder New folder' })
  await expect(rename).toBeFocused()
  await rename.fill('Sailing')
  await rename.press('Enter')
  await expect(folderToggle(app, 'Sailing')).toBeFocused()
  await expect(folder(app, 'Sailing')).toContainText('Drag a chat here.')

  await sidebarItem(app, 'Boat plans').dragTo(folder(app, 'Sailing'))
  await expect(folder(app, 'Sailing').getByTestId('conversation-item')).toHaveText(['Boat plans'])
  await expect(folderToggle(app, 'Sailing')).toHaveAccessibleName('Sailing 1 chat')
  await expect(app.getByTestId('unfiled').getByTestId('conversation-item')).toHaveText(['Garden notes'])

  await folderToggle(app, 'Sailing').click()
  await expect(folderToggle(app, 'Sailing')).toHaveAttribute('aria-expanded', 'false')
  await expect(sidebarItem(app, 'Boat plans')).toHaveCount(0)
  await app.reload()
  await expect(folderToggle(app, 'Sailing')).toHaveAttribute('aria-expanded', 'false')
  await expect(sidebarItem(app, 'Boat plans')).toHaveCount(0)
  await folderToggle(app, 'Sailing').click()
  await expect(sidebarItem(app, 'Boat plans')).toBeVisible()

  await folderAction(app, 'Sailing', 'Default preset for Sailing')
  await app.getByRole('group', { name: 'New chats in Sailing start from' }).getByRole('button', { name: 'Pirate' }).click()
  await folderAction(app, 'Sailing', 'New chat in Sailing')
  await expect(app.getByRole('group', { name: 'Start from a preset' }).getByRole('button', { name: 'Pirate' })).toHaveAttribute('aria-pressed', 'true')
  await send(app, 'Ahoy there')
  await replyDone(app)
  await expect(folder(app, 'Sailing').getByTestId('conversation-item')).toHaveText(['Ahoy there', 'Boat plans'])
  await app.getByRole('button', { name: 'Conversation settings' }).click()
  await expect(app.getByTestId('conversation-panel').getByRole('textbox', { name: 'System prompt' })).toHaveValue('Talk like a pirate.')

  // Out again onto the list by date.
  await sidebarItem(app, 'Ahoy there').dragTo(app.getByTestId('unfiled'))
  await expect(folder(app, 'Sailing').getByTestId('conversation-item')).toHaveText(['Boat plans'])
  await expect(app.getByTestId('unfiled').getByTestId('conversation-item')).toHaveText(['Ahoy there', 'Garden notes'])

  const search = app.getByRole('searchbox', { name: 'Search messages' })
  await search.fill('sloop')
  await expect(app.getByTestId('search-hit')).toHaveCount(2)
  await search.fill('')
  await folderAction(app, 'Sailing', 'Search in Sailing')
  await expect(search).toBeFocused()
  await expect(search).toHaveAttribute('placeholder', 'Search in Sailing')
  await search.fill('sloop')
  await expect(app.getByTestId('search-hit')).toHaveCount(1)
  await expect(app.getByTestId('search-hit')).toContainText('Boat plans · You')
  await app.getByRole('button', { name: 'Search every chat, not only Sailing' }).click()
  await expect(app.getByTestId('search-hit')).toHaveCount(2)
  await search.fill('')

  await folderAction(app, 'Sailing', 'Delete the folder Sailing')
  await expect(folder(app, 'Sailing')).toHaveCount(0)
  await expect(app.getByTestId('unfiled').getByTestId('conversation-item')).toHaveText(['Ahoy there', 'Garden notes', 'Boat plans'])
  await app.reload()
  await expect(sidebarItem(app, 'Boat plans')).toBeVisible()
  await expect(folder(app, 'Sailing')).toHaveCount(0)

  // The worker's later specs start with no presets.
  await openSettings(app, 'Presets')
  await dialog.getByRole('button', { name: 'Delete Pirate' }).click()
  await expect(dialog.getByTestId('preset')).toHaveCount(0)
  await closeSettings(app)
})

test('moves a chat to a folder from the keyboard, inside the list\'s one tab stop', async ({ app }) => {
  await importConversations(app, hearthExport([{ title: 'Tide tables', messages: [{ role: 'user', content: 'High tide?' }] }]))
  await app.getByRole('button', { name: 'New folder' }).click()
  await app.getByRole('textbox', { name: 'New name for the folder New folder' }).fill('Harbour')
  await app.getByRole('textbox', { name: 'New name for the folder New folder' }).press('Enter')
  await expect(folderToggle(app, 'Harbour')).toBeFocused()

  const open = sidebarItem(app, 'Tide tables').getByRole('button', { name: 'Tide tables', exact: true })
  await open.focus()
  await app.keyboard.press('ArrowRight')
  await app.keyboard.press('ArrowRight')
  await app.keyboard.press('ArrowRight')
  await expect(app.getByRole('button', { name: 'Move Tide tables to a folder' })).toBeFocused()
  await app.keyboard.press('Enter')
  await expect(app.getByRole('group', { name: 'Move to' }).getByRole('button', { name: 'Harbour' })).toBeFocused()
  await app.keyboard.press('Enter')
  await expect(folder(app, 'Harbour').getByTestId('conversation-item')).toHaveText(['Tide tables'])

  // Up from the chat reaches its folder's row; the list is still one tab stop.
  await folder(app, 'Harbour').getByRole('button', { name: 'Tide tables', exact: true }).focus()
  await app.keyboard.press('ArrowUp')
  await expect(folderToggle(app, 'Harbour')).toBeFocused()
  await app.getByRole('searchbox', { name: 'Search messages' }).focus()
  await app.keyboard.press('Tab')
  await expect(folderToggle(app, 'Harbour')).toBeFocused()
  await app.keyboard.press('Tab')
  await expect(app.getByRole('navigation', { name: 'Conversations' }).locator('.rows :focus')).toHaveCount(0)

  await folderAction(app, 'Harbour', 'Delete the folder Harbour')
  await expect(sidebarItem(app, 'Tide tables')).toBeVisible()
})

async function newFolder(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name: 'New folder' }).click()
  await page.getByRole('textbox', { name: /^New name for the folder New folder/ }).fill(name)
  await page.getByRole('textbox', { name: /^New name for the folder New folder/ }).press('Enter')
  await expect(folderToggle(page, name)).toBeFocused()
}

test('orders folders by dragging one onto another or with Alt+Up and Alt+Down, and keeps the order and the chats dragged in', async ({ app }) => {
  await importConversations(app, hearthExport([{ title: 'Reef survey', messages: [{ role: 'user', content: 'How deep is the reef?' }] }]))
  await newFolder(app, 'Reefs')
  await newFolder(app, 'Wrecks')
  const order = app.getByTestId('folder-row').locator('.name')
  await expect(order).toHaveText(['Reefs', 'Wrecks'])

  await sidebarItem(app, 'Reef survey').dragTo(folder(app, 'Reefs'))
  await expect(folder(app, 'Reefs').getByTestId('conversation-item')).toHaveText(['Reef survey'])
  await folder(app, 'Wrecks').getByTestId('folder-row').dragTo(folder(app, 'Reefs').getByTestId('folder-row'))
  await expect(order).toHaveText(['Wrecks', 'Reefs'])
  await app.reload()
  await expect(order).toHaveText(['Wrecks', 'Reefs'])
  await expect(folder(app, 'Reefs').getByTestId('conversation-item')).toHaveText(['Reef survey'])

  await folderToggle(app, 'Wrecks').focus()
  await app.keyboard.press('Alt+ArrowDown')
  await expect(order).toHaveText(['Reefs', 'Wrecks'])
  await expect(folderToggle(app, 'Wrecks')).toBeFocused()
  await app.keyboard.press('Alt+ArrowDown')
  await app.keyboard.press('Alt+ArrowUp')
  await expect(order).toHaveText(['Wrecks', 'Reefs'])
  await expect(folderToggle(app, 'Wrecks')).toBeFocused()
  await app.reload()
  await expect(order).toHaveText(['Wrecks', 'Reefs'])

  await folderAction(app, 'Wrecks', 'Delete the folder Wrecks')
  await folderAction(app, 'Reefs', 'Delete the folder Reefs')
  await expect(order).toHaveCount(0)
})

test('undoes deleting a folder: it comes back at its place with its chats', async ({ app }) => {
  await importConversations(app, hearthExport([{ title: 'Lighthouse log', messages: [{ role: 'user', content: 'Lamp lit at dusk.' }] }]))
  await newFolder(app, 'Coast')
  await newFolder(app, 'Inland')
  await sidebarItem(app, 'Lighthouse log').dragTo(folder(app, 'Coast'))
  await expect(folder(app, 'Coast').getByTestId('conversation-item')).toHaveText(['Lighthouse log'])

  await folderAction(app, 'Coast', 'Delete the folder Coast')
  await expect(folder(app, 'Coast')).toHaveCount(0)
  await expect(app.getByTestId('unfiled').getByRole('button', { name: 'Lighthouse log', exact: true })).toBeVisible()
  await app.getByTestId('toast').filter({ hasText: 'Deleted the folder “Coast”' }).getByRole('button', { name: 'Undo' }).click()
  await expect(app.getByTestId('folder-row').locator('.name')).toHaveText(['Coast', 'Inland'])
  await expect(folder(app, 'Coast').getByTestId('conversation-item')).toHaveText(['Lighthouse log'])
  await expect(app.getByTestId('unfiled').getByRole('button', { name: 'Lighthouse log', exact: true })).toHaveCount(0)
  await app.reload()
  await expect(folder(app, 'Coast').getByTestId('conversation-item')).toHaveText(['Lighthouse log'])

  await folderAction(app, 'Coast', 'Delete the folder Coast')
  await folderAction(app, 'Inland', 'Delete the folder Inland')
  await expect(app.getByTestId('folder-row')).toHaveCount(0)
})
