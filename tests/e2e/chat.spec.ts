// Chatting with the generated model as a person would: send, watch it stream, stop, regenerate, edit, branch.

import type { Locator, Page } from '@playwright/test'
import { expect, test } from './fixtures.ts'
import { LONG_REPLY, messages, newChat, replyDone, send, setMaxTokens } from './ui.ts'

test.use({ permissions: ['clipboard-read', 'clipboard-write'] })

test.describe.configure({ mode: 'serial' })

/** Records, from now on, whether a streaming cursor showed and each distinct length the last reply had. */
async function watchStream(page: Page): Promise<() => Promise<{ cursor: boolean; lengths: number }>> {
  await page.evaluate(() => {
    const seen = { cursor: false, lengths: new Set<number>() }
    ;(window as Window & { __stream?: typeof seen }).__stream = seen
    new MutationObserver(() => {
      const replies = document.querySelectorAll('[data-role="assistant"]')
      const last = replies[replies.length - 1]
      if (!last) return
      if (last.querySelector('[data-testid="stream-cursor"]')) seen.cursor = true
      seen.lengths.add(last.querySelector('.md')?.textContent?.length ?? 0)
    }).observe(document.body, { childList: true, subtree: true, characterData: true })
  })
  return () =>
    page.evaluate(() => {
      const seen = (window as Window & { __stream?: { cursor: boolean; lengths: Set<number> } }).__stream!
      return { cursor: seen.cursor, lengths: seen.lengths.size }
    })
}

test('sends with Enter, streams the reply with a cursor, and shows its stats and context', async ({ app }) => {
  await newChat(app)
  // Long enough to stream over many frames: drafts from its own text take the model through a few
  // hundred tokens in a frame or two.
  await setMaxTokens(app, 2000)
  const stream = await watchStream(app)
  const composer = app.getByRole('textbox', { name: 'Message' })
  await composer.fill('first line')
  await composer.press('Shift+Enter')
  await composer.pressSequentially('second line')
  await expect(composer).toHaveValue('first line\nsecond line')
  await expect(messages(app)).toHaveCount(0)
  await composer.press('Enter')

  await expect(messages(app).first()).toHaveText('first line\nsecond line')
  await replyDone(app)
  const reply = messages(app).last()
  await expect(reply).toHaveAttribute('data-status', 'complete')
  const seen = await stream()
  expect(seen.cursor, 'a cursor showed while the reply streamed').toBe(true)
  expect(seen.lengths, 'the reply grew in several steps').toBeGreaterThan(3)
  await expect(reply.getByTestId('stream-cursor')).toHaveCount(0)

  const stats = reply.getByTestId('message-stats')
  await expect(stats).toContainText('tok/s')
  await expect(stats).toContainText('cached')
  await expect(stats).toContainText('CPU')
  await stats.getByRole('button', { name: /Generation stats/ }).click()
  await expect(stats).toContainText('Time to first token')
  await expect(stats).toContainText('Generated tokens')

  await expect(app.getByTestId('context-meter')).toContainText('/ 262,144')
  await expect(app.getByTestId('engine-status')).toContainText('CPU')
  await expect(app.getByTestId('live-region')).not.toBeEmpty()
  await expect(app.getByRole('navigation', { name: 'Conversations' })).toContainText('first line')
})

function cursorInsideMessageList(): boolean {
  const list = document.querySelector('[data-testid=message-list]')?.getBoundingClientRect()
  const cursor = document.querySelector('[data-testid=stream-cursor]')?.getBoundingClientRect()
  return !!list && !!cursor && cursor.height > 0 && cursor.top >= list.top && cursor.bottom <= list.bottom
}

test('stops a long reply with Esc: the engine stops and the text shown is the text stored', async ({ app }) => {
  await newChat(app)
  await setMaxTokens(app, LONG_REPLY)
  await send(app, 'Write a very long story')
  const reply = messages(app).last()
  await expect(app.getByRole('button', { name: 'Stop generating' })).toBeVisible()
  // Longer than the window by now: the view follows the end of the reply as it grows.
  await expect(reply.locator('.md')).toHaveText(/[\s\S]{2000}/, { timeout: 30_000 })
  // Geometry, not toBeInViewport: the cursor is redrawn every frame, faster than an observer reports.
  await expect.poll(() => app.evaluate(cursorInsideMessageList), { message: 'the cursor stays in view' }).toBe(true)
  await app.keyboard.press('Escape')

  await expect(reply).toHaveAttribute('data-status', 'interrupted')
  await expect(reply).toContainText('Stopped before the end.')
  await expect(app.getByRole('button', { name: 'Send message' })).toBeVisible()
  const stopped = (await reply.locator('.md').textContent()) ?? ''
  await expect(reply.getByTestId('message-stats')).not.toContainText('cut at the token limit')
  await reply.getByTestId('message-stats').getByRole('button', { name: /Generation stats/ }).click()
  await expect(reply.getByTestId('message-stats')).toContainText('Stopped bystopped')

  // What was stored is what was shown: nothing kept streaming into the row after the stop.
  await app.reload()
  await expect(messages(app).last().locator('.md')).toHaveText(stopped)
  await expect(messages(app).last()).toHaveAttribute('data-status', 'interrupted')

  await expect(messages(app)).toHaveCount(2)
})

test('continues an interrupted reply from where it stopped', async ({ app }) => {
  await newChat(app)
  await setMaxTokens(app, LONG_REPLY)
  await send(app, 'Count to a thousand')
  await expect(messages(app).last().locator('.md')).toHaveText(/\S{10}/)
  // Dispatched, not clicked: the tiny model streams thousands of characters a second into one
  // paragraph, and a click that first waits for the button to be "stable" between such frames can
  // land seconds later, after the reply has reached its max tokens.
  await app.getByRole('button', { name: 'Stop generating' }).dispatchEvent('click')
  const reply = messages(app).last()
  await expect(reply).toHaveAttribute('data-status', 'interrupted')
  const stopped = (await reply.locator('.md').textContent()) ?? ''
  const stoppedSource = await copySource(reply)

  await reply.getByRole('button', { name: 'Continue' }).click()
  await expect(app.getByRole('button', { name: 'Stop generating' })).toBeVisible()

  await expect.poll(async () => ((await reply.locator('.md').textContent()) ?? '').length).toBeGreaterThan(stopped.length + 10)
  await app.getByRole('button', { name: 'Stop generating' }).dispatchEvent('click')
  await expect(reply).toHaveAttribute('data-status', 'interrupted')
  // The source, not the rendered text: more text can turn earlier marks into markdown (~~, *).
  const continued = await copySource(reply)
  expect(continued.startsWith(stoppedSource), 'the continued reply begins with the stopped one').toBe(true)
  expect(continued.length).toBeGreaterThan(stoppedSource.length)
  await expect(messages(app)).toHaveCount(2)
})

async function copySource(reply: Locator): Promise<string> {
  await reply.getByRole('button', { name: 'Copy message' }).click()
  await expect(reply.getByRole('button', { name: 'Copied' })).toBeVisible()
  const text = await reply.page().evaluate(() => navigator.clipboard.readText())
  await expect(reply.getByRole('button', { name: 'Copy message' })).toBeVisible()
  return text
}

test('regenerates a reply into a second branch and switches between the two', async ({ app }) => {
  await newChat(app)
  await setMaxTokens(app, 40)
  await send(app, 'Tell me a story')
  await replyDone(app)
  const first = (await messages(app).last().locator('.md').textContent()) ?? ''

  await messages(app).last().getByRole('button', { name: 'Regenerate reply' }).click()
  await expect(messages(app).last().getByTestId('branch-count')).toHaveText('2/2', { timeout: 30_000 })
  await replyDone(app)
  const second = (await messages(app).last().locator('.md').textContent()) ?? ''
  await expect(messages(app)).toHaveCount(2)

  await messages(app).last().getByRole('button', { name: 'Previous branch' }).click()
  await expect(messages(app).last().getByTestId('branch-count')).toHaveText('1/2')
  await expect(messages(app).last().locator('.md')).toHaveText(first)
  await messages(app).last().getByRole('button', { name: 'Next branch' }).click()
  await expect(messages(app).last().getByTestId('branch-count')).toHaveText('2/2')
  await expect(messages(app).last().locator('.md')).toHaveText(second)

  await app.reload()
  await expect(messages(app).last().getByTestId('branch-count')).toHaveText('2/2')
})

test('edits a sent message into a new branch with its own reply, and switches back', async ({ app }) => {
  await newChat(app)
  await setMaxTokens(app, 40)
  await send(app, 'What is a quark?')
  await replyDone(app)
  const firstReply = (await messages(app).last().locator('.md').textContent()) ?? ''

  const question = messages(app).first()
  await question.hover()
  await question.getByRole('button', { name: 'Edit message' }).click()
  const editor = app.getByRole('textbox', { name: 'Edit your message' })
  await expect(editor).toHaveValue('What is a quark?')
  await editor.fill('What is a gluon?')
  await editor.press('Enter')

  await expect(messages(app).first()).toContainText('What is a gluon?')
  await expect(messages(app).first().getByTestId('branch-count')).toHaveText('2/2')
  await replyDone(app)
  await expect(messages(app)).toHaveCount(2)

  await messages(app).first().getByRole('button', { name: 'Previous branch' }).click()
  await expect(messages(app).first()).toContainText('What is a quark?')
  await expect(messages(app).first().getByTestId('branch-count')).toHaveText('1/2')
  await expect(messages(app).last().locator('.md')).toHaveText(firstReply)
})
