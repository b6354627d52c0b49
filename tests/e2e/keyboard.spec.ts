// Keyboard and screen-reader use: shortcuts, visible focus, labelled controls, replies announced by sentence.

import type { Page } from '@playwright/test'
import { hearthExport, SAMPLE_STATS } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { closeSettings, importConversations, messages, newChat, openConversation, openModels, openSettings, replyDone, send, setMaxTokens } from './ui.ts'

/** Controls on the page that a screen reader could not name (no text, label, aria-label or title). */
function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const named = (el: HTMLElement): boolean => {
      if (el.getAttribute('aria-label')?.trim() || el.getAttribute('title')?.trim()) return true
      const by = el.getAttribute("aria-labelledby")
      if (by) return true
      if ((el as HTMLInputElement).labels?.length) return true
      return el instanceof HTMLButtonElement && (el.textContent ?? '').trim() !== ''
    }
    return [...document.querySelectorAll<HTMLElement>('button, input, select, textarea, [role="tab"], [role="meter"]')]
      .filter((el) => el.getClientRects().length > 0 || el instanceof HTMLInputElement)
      .filter((el) => !named(el))
      .map((el) => el.outerHTML.slice(0, 120))
  })
}

test('Ctrl+N (and Alt+N in a browser) starts a chat, Ctrl+K finds, Ctrl+, opens settings and Esc closes them', async ({ app }) => {
  const items = app.getByTestId('conversation-item')
  const before = await items.count()
  const draft = app.getByRole('heading', { level: 1, name: 'New chat' })
  const composer = app.getByRole('textbox', { name: 'Message' })
  await app.keyboard.press('Control+n')
  await expect(draft).toBeVisible()
  await expect(composer).toBeFocused()
  // In a browser, whose Ctrl+N opens a window, Alt+N does it too, and the button says so.
  await expect(app.getByRole('button', { name: 'New chat' }).first()).toHaveAttribute('aria-keyshortcuts', 'Alt+N')
  // A new chat is stored with its first message: the one left unsent is gone after a reload.
  await app.reload()
  await expect(app.getByRole('main')).toHaveAttribute('aria-busy', 'false')
  await expect(draft).toHaveCount(0)
  await app.keyboard.press('Alt+n')
  await expect(draft).toBeVisible()
  await expect(composer).toBeFocused()
  await expect(items).toHaveCount(before)

  await app.keyboard.press('Control+k')
  await expect(app.getByRole('searchbox', { name: 'Search messages' })).toBeFocused()

  await app.keyboard.press('Control+,')
  await expect(app.getByRole('dialog', { name: 'Settings' })).toBeVisible()
  await app.getByRole('tab', { name: 'General' }).focus()
  await app.keyboard.press('ArrowDown')
  await expect(app.getByRole('tab', { name: 'Chat defaults' })).toBeFocused()
  await expect(app.getByRole('tab', { name: 'Chat defaults' })).toHaveAttribute('aria-selected', 'true')
  await app.keyboard.press('Escape')
  await expect(app.getByRole('dialog', { name: 'Settings' })).toBeHidden()
})

test('shows where the keyboard focus is', async ({ app }) => {
  await app.getByRole('searchbox', { name: 'Search messages' }).focus()
  await app.keyboard.press('Shift+Tab')
  const focused = app.locator(':focus')
  await expect(focused).toHaveAccessibleName('New chat')
  await expect(focused).not.toHaveCSS('outline-style', 'none')
})

test('labels every control in the chat, the panel, every settings tab and every model manager tab', async ({ app }) => {
  await importConversations(
    app,
    hearthExport([{ title: 'Labelled', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '```js\nx()\n```', stats: SAMPLE_STATS }] }]),
  )
  await openConversation(app, 'Labelled')
  await app.getByRole('button', { name: 'Conversation settings' }).click()
  expect(await unlabelled(app)).toEqual([])
  for (const tab of ['General', 'Chat defaults', 'Models', 'Engine'] as const) {
    await openSettings(app, tab)
    expect(await unlabelled(app), tab).toEqual([])
  }
  await closeSettings(app)
  for (const tab of ['Installed', 'Discover', 'Downloads', 'Remote'] as const) {
    await openModels(app, tab)
    expect(await unlabelled(app), `Models: ${tab}`).toEqual([])
  }
})

test('announces a streamed reply politely, by whole sentences rather than by token', async ({ app }) => {
  await newChat(app)
  await setMaxTokens(app, 150)
  const region = app.getByTestId('live-region')
  await expect(region).toHaveAttribute('aria-live', 'polite')
  await app.evaluate(() => {
    const w = window as Window & { __announced?: string[] }
    w.__announced = []
    const el = document.querySelector('[data-testid="live-region"]')!
    new MutationObserver(() => w.__announced!.push(el.textContent ?? '')).observe(el, { childList: true, subtree: true, characterData: true })
  })
  await send(app, 'Say a few sentences.')
  await replyDone(app)
  const reply = (await messages(app).last().locator('.md').textContent()) ?? ''
  const announced = await app.evaluate(() => (window as Window & { __announced?: string[] }).__announced!.filter((t) => t !== ''))
  const sentenceEnds = (reply.match(/[.!?…]+["')\]]*\s|\n\s*\n/g) ?? []).length
  expect(announced.length).toBeGreaterThan(0)
  expect(announced.length, `${announced.length} announcements for ${sentenceEnds} sentence ends`).toBeLessThanOrEqual(sentenceEnds + 1)
})
