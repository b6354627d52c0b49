// The layout from 800 to 1600 px: a sidebar that hides (remembered) or overlays, a one-row header, a chat never squeezed.

import type { Locator, Page } from '@playwright/test'
import { hearthExport } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { importConversations, openConversation, pickModel } from './ui.ts'

const LONG_TITLE = 'Planning the autumn walking trip through the Picos de Europa with the whole family'
const WORDS = ['Internationalization', 'Responsibilities', 'Characteristics', 'Approximately', 'Unfortunately', 'Nevertheless']
const TABLE = [`| ${WORDS.join(' | ')} |`, `|${WORDS.map(() => '---').join('|')}|`, `| ${WORDS.map((w) => `${w.toLowerCase()} here`).join(' | ')} |`].join('\n')

const sidebar = (page: Page) => page.getByRole('navigation', { name: 'Conversations' })
const toggle = (page: Page) => page.getByRole('button', { name: 'Sidebar', exact: true })
const chatColumn = (page: Page) => page.getByRole('region', { name: 'Chat' })

async function box(locator: Locator): Promise<{ x: number; y: number; width: number; height: number }> {
  const found = await locator.boundingBox()
  if (!found) throw new Error(`${locator} has no box`)
  return found
}

/** Opens (importing once per worker) the chat whose header and table the tests measure, in a wide window. */
async function openWideChat(page: Page): Promise<void> {
  await page.setViewportSize({ width: 1280, height: 800 })
  if ((await sidebar(page).getByRole('button', { name: LONG_TITLE, exact: true }).count()) === 0) {
    await importConversations(page, hearthExport([{ title: LONG_TITLE, messages: [{ role: 'user', content: 'Compare these' }, { role: 'assistant', content: TABLE }] }]))
    await openConversation(page, LONG_TITLE)
    // A model of its own, so the header carries the engine's controls too.
    await pickModel(page, 'tiny-chat')
  }
  await openConversation(page, LONG_TITLE)
}

test.describe.configure({ mode: 'serial' })

// 1160 px with the sidebar docked and the panel beside the chat leaves the header its narrowest row,
// and a loaded model its widest engine controls (a chip and Unload).
for (const { width, panel } of [{ width: 800, panel: false }, { width: 1280, panel: false }, { width: 1160, panel: true }]) {
  test(`keeps the chat header on one row with its title showing at ${width} px${panel ? ', the panel open' : ''}`, async ({ app }) => {
    await openWideChat(app)
    await app.setViewportSize({ width, height: 700 })
    await app.reload()
    const engine = app.getByTestId('engine-status')
    if (panel) {
      // Loaded already where an earlier test in this worker replied.
      const [load, unload] = [engine.getByRole('button', { name: 'Load model' }), engine.getByRole('button', { name: 'Unload' })]
      await expect(load.or(unload)).toBeVisible()
      if (await load.isVisible()) await load.click()
      await expect(unload).toBeVisible()
      await app.getByRole('button', { name: 'Conversation settings' }).click()
      const { x } = await box(app.getByTestId('conversation-panel'))
      expect(x + 1, 'the panel sits beside the chat').toBeGreaterThanOrEqual((await box(chatColumn(app))).x + (await box(chatColumn(app))).width)
    }
    const title = app.getByRole('heading', { level: 1, name: LONG_TITLE })
    await expect(title).toBeVisible()
    const header = app.locator('header').filter({ has: title })
    const controls = [toggle(app), header.getByRole('combobox', { name: 'Model', exact: true }), engine.getByRole('button').last(), header.getByRole('meter', { name: 'Context used' }), header.getByRole('button', { name: 'Conversation settings' })]
    for (const control of controls) await expect(control).toBeVisible()
    const titleBox = await box(title)
    expect(titleBox.width, 'the title keeps room to be read').toBeGreaterThanOrEqual(100)
    // Too long for the room it has: cut with an ellipsis, not wrapped or hidden.
    expect(await title.evaluate((el) => el.scrollWidth > el.clientWidth && getComputedStyle(el).textOverflow === 'ellipsis')).toBe(true)
    const middle = titleBox.y + titleBox.height / 2
    for (const control of controls) {
      const { x, y, width: w, height: h } = await box(control)
      expect(Math.abs(y + h / 2 - middle), `${control} sits on the title's row`).toBeLessThanOrEqual(4)
      expect(x + w, `${control} is inside the window`).toBeLessThanOrEqual(width)
    }
  })
}

test('keeps the chat at a readable width with the conversation panel open, tables scrolling in their own box', async ({ app }) => {
  await openWideChat(app)
  await app.getByRole('button', { name: 'Conversation settings' }).click()
  const panel = app.getByTestId('conversation-panel')
  // 1000 px keeps the sidebar docked, leaving the panel too little room beside the chat: it lies over it.
  for (const width of [800, 1000, 1280, 1600]) {
    await app.setViewportSize({ width, height: 700 })
    await expect(panel).toBeVisible()
    const panelBox = await box(panel)
    expect(panelBox.x + panelBox.width, `the panel is inside the window at ${width} px`).toBeLessThanOrEqual(width + 1)
    const chat = await box(chatColumn(app))
    expect(chat.width, `the chat column at ${width} px`).toBeGreaterThanOrEqual(420)

    const table = app.locator('[data-role="assistant"] table')
    const cell = table.getByRole('columnheader', { name: 'Internationalization' })
    // One line box per word: the cell did not break it letter by letter.
    expect(await cell.evaluate((el) => {
      const range = document.createRange()
      range.selectNodeContents(el)
      return range.getClientRects().length
    })).toBe(1)
    const tableBox = await box(table)
    expect(tableBox.x + tableBox.width, `the table stays inside the chat at ${width} px`).toBeLessThanOrEqual(chat.x + chat.width)
  }
  // Narrow enough that six long columns do not fit: the table scrolls, the page does not.
  await app.setViewportSize({ width: 800, height: 700 })
  const table = app.locator('[data-role="assistant"] table')
  expect(await table.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true)
  expect(await app.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(800)

  await panel.getByRole('textbox', { name: 'System prompt' }).focus()
  await app.keyboard.press('Escape')
  await expect(panel).toBeHidden()
  await expect(app.getByRole('button', { name: 'Conversation settings' })).toBeFocused()
})

test('hides and shows the sidebar by its button and Ctrl+B, and remembers it across reloads', async ({ app }) => {
  await openWideChat(app)
  await expect(toggle(app)).toHaveAttribute('aria-expanded', 'true')
  const docked = await box(chatColumn(app))

  await toggle(app).click()
  await expect(sidebar(app)).toBeHidden()
  await expect(toggle(app)).toHaveAttribute('aria-expanded', 'false')
  await expect(toggle(app)).toBeFocused()
  // The chat takes the sidebar's room.
  await expect.poll(async () => (await box(chatColumn(app))).width).toBeGreaterThan(docked.width + 200)

  await app.reload()
  await expect(app.getByRole('heading', { level: 1, name: LONG_TITLE })).toBeVisible()
  await expect(sidebar(app)).toBeHidden()

  await app.keyboard.press('Control+b')
  await expect(sidebar(app)).toBeVisible()
  await expect(toggle(app)).toHaveAttribute('aria-expanded', 'true')
  await app.reload()
  await expect(sidebar(app)).toBeVisible()

  // Hidden from inside, the focus does not vanish with the sidebar: it lands on the toggle.
  await app.getByRole('searchbox', { name: 'Search messages' }).focus()
  await app.keyboard.press('Control+b')
  await expect(sidebar(app)).toBeHidden()
  await expect(toggle(app)).toBeFocused()
  // Ctrl+K brings a hidden sidebar back to search in it.
  await app.keyboard.press('Control+k')
  await expect(app.getByRole('searchbox', { name: 'Search messages' })).toBeFocused()
  await expect(toggle(app)).toHaveAttribute('aria-expanded', 'true')
})

test('below 900 px starts with the sidebar hidden and opens it over the chat, not beside it', async ({ app }) => {
  await openWideChat(app)
  await app.setViewportSize({ width: 800, height: 700 })
  await app.reload()
  await expect(app.getByRole('heading', { level: 1, name: LONG_TITLE })).toBeVisible()
  await expect(sidebar(app)).toBeHidden()
  const chat = await box(chatColumn(app))
  expect(chat.width).toBeGreaterThanOrEqual(790)

  await toggle(app).click()
  await expect(sidebar(app)).toBeVisible()
  await expect(sidebar(app).getByRole('button', { name: 'New chat' }).first()).toBeFocused()
  expect((await box(chatColumn(app))).width, 'the overlay leaves the chat its width').toBe(chat.width)
  await app.keyboard.press('Escape')
  await expect(sidebar(app)).toBeHidden()
  await expect(toggle(app)).toBeFocused()

  await app.keyboard.press('Control+b')
  await expect(sidebar(app)).toBeVisible()
  // A click beside the overlay closes it.
  await app.mouse.click(780, 400)
  await expect(sidebar(app)).toBeHidden()

  // Picking a chat in the overlay gives the window back to it.
  await app.keyboard.press('Control+b')
  await app.getByRole('button', { name: 'New chat' }).first().click()
  await expect(app.getByRole('textbox', { name: 'Message' })).toBeFocused()
  await expect(sidebar(app)).toBeHidden()

  // The overlay is not the wide window's choice: widening docks the sidebar again.
  await app.setViewportSize({ width: 1280, height: 700 })
  await expect(sidebar(app)).toBeVisible()
  await expect.poll(async () => (await box(chatColumn(app))).x).toBeGreaterThan(200)
})
