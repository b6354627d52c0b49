// Two chats and one engine: the second chat's reply says whose reply it waits for, and its stats
// keep the wait apart from the engine's time to first token.

import { expect, test } from './fixtures.ts'
import { LONG_REPLY, messages, newChat, openConversation, replyDone, send, setMaxTokens } from './ui.ts'

test('a reply waiting for another chat says which, then streams once that chat stops, its wait stated apart', async ({ app }) => {
  // A busy machine is slow to draw a fast reply: the first chat is left as soon as it is sent.
  test.setTimeout(120_000)
  await newChat(app)
  await setMaxTokens(app, LONG_REPLY)
  await send(app, 'Tell a very long tale of two queues')

  await newChat(app)
  await send(app, 'And a short poem about waiting')
  const waiting = messages(app).last()
  await expect(waiting.getByTestId('reply-waiting')).toHaveText('Waiting for “Tell a very long tale of two queues” to finish…')
  await expect(waiting).toHaveAttribute('data-status', 'streaming')
  await expect(waiting.locator('.md')).toHaveText('')

  // Its sidebar entry says it is generating.
  await app.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /^Tell a very long tale of two queues/ }).click()
  await expect(app.getByRole('heading', { level: 1, name: 'Tell a very long tale of two queues' })).toBeVisible()
  // Dispatched: a click waiting for a "stable" button while thousands of characters a second stream
  // in can land after the reply has reached its max tokens (Esc's stop is chat.spec's to test).
  await app.getByRole('button', { name: 'Stop generating' }).dispatchEvent('click')
  await expect(messages(app).last()).toHaveAttribute('data-status', 'interrupted')
  await expect(messages(app).last().getByTestId('reply-waiting')).toHaveCount(0)

  await openConversation(app, 'And a short poem about waiting')
  await replyDone(app)
  const reply = messages(app).last()
  await expect(reply).toHaveAttribute('data-status', 'complete')
  await expect(reply.getByTestId('reply-waiting')).toHaveCount(0)
  const stats = reply.getByTestId('message-stats')
  await stats.getByRole('button', { name: /Generation stats/ }).click()
  await expect(stats.getByTestId('waited-detail')).toHaveText(/^\d[\d.,]* (ms|s)$/)
  await expect(stats).toContainText(/Time to first token.* in the engine · .* from sending/)
})
