// A 1,000-message chat opens like a short one and pages in older messages as the reader scrolls up.
// The time to open it is measured and reported (test annotations and the log), never asserted.

import type { Page } from '@playwright/test'
import { hearthExport, SAMPLE_STATS, type FileConversation } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { importConversations } from './ui.ts'

function chat(title: string, messages: number): FileConversation {
  return {
    title,
    messages: Array.from({ length: messages }, (_, i) =>
      i % 2 === 0
        ? { role: 'user' as const, content: `Question ${i / 2}: how does step ${i / 2} work?` }
        : {
            role: 'assistant' as const,
            content: i === messages - 1 ? 'The very last reply.' : `Step ${(i - 1) / 2} works like this:\n\n- first **this**\n- then \`that\`\n\n\`\`\`py\nprint(${i})\n\`\`\``,
            stats: SAMPLE_STATS,
          },
    ),
  }
}

/** Milliseconds from the click in the sidebar to the frame after the chat's last reply is in the DOM. */
async function timeOpen(page: Page, title: string, lastText: string): Promise<number> {
  await page.evaluate((text) => {
    const w = window as Window & { __opened?: Promise<number> }
    const t0 = performance.now()
    w.__opened = new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        const shown = [...document.querySelectorAll('[data-testid="message"]')].some((m) => m.textContent?.includes(text))
        if (!shown) return
        observer.disconnect()
        requestAnimationFrame(() => resolve(performance.now() - t0))
      })
      observer.observe(document.body, { childList: true, subtree: true, characterData: true })
    })
  }, lastText)
  await page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: title, exact: true }).click()
  return page.evaluate(() => (window as Window & { __opened?: Promise<number> }).__opened!)
}

test('opens a 1,000-message chat with only its end rendered, then pages in earlier messages', async ({ app }) => {
  await importConversations(app, hearthExport([chat('Thousand messages', 1000), chat('Ten messages', 10)]))

  const short = await timeOpen(app, 'Ten messages', 'The very last reply.')
  const long = await timeOpen(app, 'Thousand messages', 'The very last reply.')
  const figure = `opening a 1,000-message chat took ${Math.round(long)} ms (a 10-message chat: ${Math.round(short)} ms)`
  test.info().annotations.push({ type: 'measure', description: figure })
  console.log(figure)

  const list = app.getByTestId('message-list')
  await expect(list.getByTestId('message').last()).toContainText('The very last reply.')
  await expect(list.getByTestId('message').last()).toBeInViewport()
  const rendered = await list.getByTestId('message').count()
  expect(rendered).toBeLessThan(100)

  // Scrolling to the top pages in older messages, keeping the reader's place (not jumping back to the end).
  await list.hover()
  await expect(async () => {
    await app.mouse.wheel(0, -50_000)
    expect(await list.getByTestId('message').count()).toBeGreaterThanOrEqual(rendered * 3)
  }).toPass()
  await expect(list.getByTestId('message').last()).not.toBeInViewport()
})
