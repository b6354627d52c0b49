// What a person does in the UI, as steps the specs share.

import type { Page } from '@playwright/test'
import { expect } from './fixtures.ts'

export async function openSettings(page: Page, tab?: 'General' | 'Chat defaults' | 'Presets' | 'Models' | 'Engine' | 'Tools'): Promise<void> {
  const dialog = page.getByRole('dialog', { name: 'Settings' })
  if (!(await dialog.isVisible())) await page.getByRole('button', { name: 'Settings', exact: true }).click()
  await expect(dialog).toBeVisible()
  if (tab) await dialog.getByRole('tab', { name: tab }).click()
}

export async function closeSettings(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Close settings' }).click()
  await expect(page.getByRole('dialog', { name: 'Settings' })).toBeHidden()
}

export type ModelsTab = 'Installed' | 'Discover' | 'Downloads' | 'Remote'

/** The model manager page, which takes the chat's place. */
export function modelsPage(page: Page) {
  return page.getByRole('region', { name: 'Models', exact: true })
}

/** Opens the model manager from the sidebar (or its shortcut, where the sidebar is hidden) at a tab. */
export async function openModels(page: Page, tab: ModelsTab = 'Installed'): Promise<void> {
  const manager = modelsPage(page)
  if (!(await manager.isVisible())) {
    const entry = page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: 'Models', exact: true })
    if (await entry.isVisible()) await entry.click()
    else await page.keyboard.press('Control+Shift+M')
  }
  await expect(manager).toBeVisible()
  // The Downloads tab's name carries its count of active downloads.
  await manager.getByRole('tab', { name: new RegExp(`^${tab}`) }).click()
  await expect(manager.getByRole('tab', { name: new RegExp(`^${tab}`) })).toHaveAttribute('aria-selected', 'true')
}

export async function closeModels(page: Page): Promise<void> {
  await modelsPage(page).getByRole('button', { name: 'Back to the chat' }).click()
  await expect(modelsPage(page)).toBeHidden()
}

/** Imports a Hearth export through Settings, as a user picking a file would. */
export async function importConversations(page: Page, json: string): Promise<void> {
  await openSettings(page, 'General')
  await page.getByLabel('Import conversations from a file').setInputFiles({ name: 'hearth-export.json', mimeType: 'application/json', buffer: Buffer.from(json) })
  await expect(page.getByTestId('toast').filter({ hasText: 'Imported' })).toBeVisible()
  await closeSettings(page)
}

export function sidebarItem(page: Page, title: string) {
  return page.getByTestId('conversation-item').filter({ has: page.getByRole('button', { name: title, exact: true }) })
}

export async function openConversation(page: Page, title: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: title, exact: true }).click()
  await expect(page.getByRole('heading', { level: 1, name: title })).toBeVisible()
}

export async function newChat(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'New chat' }).first().click()
  await expect(page.getByRole('textbox', { name: 'Message' })).toBeFocused()
}

const THEMES = ['light', 'dark'] as const

/** The published set's window widths (npm run screenshots): the narrowest the layout is made for, a laptop, a desktop. */
const WIDTHS = [800, 1280, 1600] as const

/**
 * Saves the page as test-results/screenshots/<name>-light.png and -dark.png (the theme follows the
 * system). With HEARTH_SCREENSHOTS set to a folder (npm run screenshots), saves the published set
 * there instead: <name>-<width>-<theme>.png at each of WIDTHS, then puts the window back.
 */
export async function shoot(page: Page, name: string): Promise<void> {
  const published = process.env.HEARTH_SCREENSHOTS
  const viewport = page.viewportSize()
  for (const width of published ? WIDTHS : [null]) {
    if (width !== null) {
      await page.setViewportSize({ width, height: 800 })
      // Laid out at the new width before the picture: a frame, not a wait.
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))))
    }
    for (const theme of THEMES) {
      await page.emulateMedia({ colorScheme: theme })
      await expect(page.locator('html')).toHaveAttribute('data-theme', theme)
      await page.screenshot({ path: published ? `${published}/${name}-${width}-${theme}.png` : `test-results/screenshots/${name}-${theme}.png` })
    }
  }
  if (published && viewport) await page.setViewportSize(viewport)
}


/**
 * Max tokens for a reply a test stops: minutes of decoding for the e2e model (CHAT_MODEL), past
 * any test's timeout, so it is still streaming whenever the test gets to its Stop.
 */
export const LONG_REPLY = 250_000

/** Sets this conversation's max tokens in its settings panel, and closes the panel. */
export async function setMaxTokens(page: Page, maxTokens: number): Promise<void> {
  await page.getByRole('button', { name: 'Conversation settings' }).click()
  const panel = page.getByTestId('conversation-panel')
  const field = panel.getByRole('spinbutton', { name: 'Max tokens' })
  await field.fill(String(maxTokens))
  await field.press('Tab')
  await expect(field).toHaveValue(String(maxTokens))
  await panel.getByRole('button', { name: 'Close conversation settings' }).click()
}

/** The open chat's model picker: the header's button, and the list it opens. */
export function modelPicker(page: Page) {
  const header = page.getByRole('region', { name: 'Chat' })
  return {
    button: header.getByRole('combobox', { name: 'Model', exact: true }),
    search: page.getByRole('combobox', { name: 'Search models' }),
    list: page.getByRole('listbox', { name: 'Model' }),
  }
}

/** Chooses the open chat's model in the header's picker, searching for it by name as a person would. */
export async function pickModel(page: Page, name: string): Promise<void> {
  const picker = modelPicker(page)
  await picker.button.click()
  await picker.search.fill(name)
  await picker.list.getByRole('option', { name, exact: true }).click()
  await expect(picker.list).toBeHidden()
}

export async function send(page: Page, text: string): Promise<void> {
  const composer = page.getByRole('textbox', { name: 'Message' })
  await composer.fill(text)
  await composer.press('Enter')
  await expect(composer).toHaveValue('')
}

export function messages(page: Page) {
  return page.getByTestId('message-list').getByTestId('message')
}

/** Waits until the last reply has finished streaming, however it ended. */
export async function replyDone(page: Page): Promise<void> {
  await expect(page.getByRole('button', { name: 'Send message' })).toBeVisible({ timeout: 60_000 })
  await expect(messages(page).last()).not.toHaveAttribute('data-status', 'streaming')
}
