// The model manager, a page in the chat's place: opened from the sidebar, the model picker, its
// shortcut and Settings; its tabs move by arrow keys, and it opens on the one it was left on; Esc
// (or Back) returns to the chat as it was, the focus where it had been; opening a chat from the
// sidebar leaves the page.

import { hearthExport } from './conversation-file.ts'
import { CHAT_MODEL, expect, test } from './fixtures.ts'
import { importConversations, modelPicker, modelsPage, newChat, openSettings, sidebarItem } from './ui.ts'

// A Hearth of its own: the Installed tab lists its one model.
test.use({ models: { 'manager-model': CHAT_MODEL['tiny-chat']! } })

test('opens by its shortcut over a chat, moves between tabs by arrow keys, and Esc brings the chat back with its focus', async ({ app }) => {
  await newChat(app)
  const composer = app.getByRole('textbox', { name: 'Message' })
  await composer.fill('Half a thought')
  await app.keyboard.press('Control+Shift+M')

  const manager = modelsPage(app)
  await expect(manager.getByRole('heading', { level: 1, name: 'Models' })).toBeFocused()
  // It takes the chat's place; the sidebar stays.
  await expect(app.getByRole('region', { name: 'Chat' })).toBeHidden()
  await expect(app.getByRole('navigation', { name: 'Conversations' })).toBeVisible()
  await expect(manager.getByTestId('library-model')).toHaveCount(1)
  await expect(manager.getByTestId('library-model')).toContainText('manager-model')

  const tab = (name: string) => manager.getByRole('tab', { name: new RegExp(`^${name}`) })
  await expect(tab('Installed')).toHaveAttribute('aria-selected', 'true')
  await tab('Installed').focus()
  await app.keyboard.press('ArrowRight')
  await expect(tab('Discover')).toBeFocused()
  await expect(tab('Discover')).toHaveAttribute('aria-selected', 'true')
  await expect(manager.getByRole('tabpanel', { name: 'Discover' }).getByRole('region', { name: 'Find one on the Hugging Face Hub' })).toBeVisible()
  await app.keyboard.press('ArrowRight')
  await expect(manager.getByRole('tabpanel', { name: 'Downloads' })).toContainText('Nothing is downloading')
  await app.keyboard.press('End')
  await expect(tab('Remote')).toBeFocused()
  await expect(manager.getByRole('tabpanel', { name: 'Remote' }).getByRole('form', { name: 'Add a remote server' })).toBeVisible()
  await app.keyboard.press('ArrowRight')
  await expect(tab('Installed')).toBeFocused()
  await app.keyboard.press('ArrowLeft')
  await expect(tab('Remote')).toHaveAttribute('aria-selected', 'true')

  await app.keyboard.press('Escape')
  await expect(manager).toBeHidden()
  await expect(composer).toBeFocused()
  await expect(composer).toHaveValue('Half a thought')

  // The page opens on the tab it was left on, after a restart too.
  await app.reload()
  await app.keyboard.press('Control+Shift+M')
  await expect(tab('Remote')).toHaveAttribute('aria-selected', 'true')
  await expect(manager.getByRole('tabpanel', { name: 'Remote' })).toBeVisible()
})

test('opens from the sidebar and from the model picker, and Back returns the focus to what opened it', async ({ app }) => {
  await newChat(app)
  const manager = modelsPage(app)
  const entry = app.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: 'Models', exact: true })
  await entry.click()
  await expect(manager).toBeVisible()
  await expect(entry).toHaveAttribute('aria-current', 'page')
  await manager.getByRole('button', { name: 'Back to the chat' }).click()
  await expect(manager).toBeHidden()
  await expect(entry).toBeFocused()

  // By keys: the picker's search, then Tab to "Manage models…".
  const picker = modelPicker(app)
  await picker.button.click()
  await expect(picker.search).toBeFocused()
  await app.keyboard.press('Tab')
  const manage = app.getByRole('button', { name: 'Manage models…' })
  await expect(manage).toBeFocused()
  await app.keyboard.press('Enter')
  await expect(manager).toBeVisible()
  await expect(picker.list).toBeHidden()
  await app.keyboard.press('Escape')
  await expect(manager).toBeHidden()
  await expect(picker.button).toBeFocused()
})

test('Settings points to the page, and a chat opened from the sidebar takes the page’s place', async ({ app }) => {
  await importConversations(app, hearthExport([{ title: 'Opened over the model manager', messages: [{ role: 'user', content: 'Hello there' }] }]))
  await openSettings(app, 'Models')
  await app.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Open Models' }).click()
  await expect(app.getByRole('dialog', { name: 'Settings' })).toBeHidden()
  const manager = modelsPage(app)
  await expect(manager).toBeVisible()

  await sidebarItem(app, 'Opened over the model manager').getByRole('button', { name: 'Opened over the model manager', exact: true }).click()
  await expect(manager).toBeHidden()
  await expect(app.getByRole('heading', { level: 1, name: 'Opened over the model manager' })).toBeVisible()
})
