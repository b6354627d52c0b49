// A reply's stats line as a person reads it: labelled figures, a cut reply said so, details below the actions.

import { hearthExport, SAMPLE_STATS } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { importConversations, messages, newChat, openConversation, replyDone, send, setMaxTokens } from './ui.ts'

test.describe.configure({ mode: 'serial' })

test('labels each figure of the stats line and explains it on hover', async ({ app }) => {
  await importConversations(
    app,
    hearthExport([{ title: 'Fast reply', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello.', stats: { ...SAMPLE_STATS, ttftMs: 6, decodeTokensPerSecond: 1193.4, reusedTokens: 0 } }] }]),
  )
  await openConversation(app, 'Fast reply')
  const summary = messages(app).last().getByTestId('message-stats').getByRole('button', { name: /Generation stats/ })
  await expect(summary).toHaveText('Generation stats: first token 6 ms · 1,193 tok/s · 0 cached · CPU')
  await expect(summary.getByText('first token 6 ms')).toHaveAttribute('title', /^Time to first token/)
  await expect(summary.getByText('1,193 tok/s')).toHaveAttribute('title', /^Decode speed/)
  await expect(summary.getByText('0 cached')).toHaveAttribute('title', /KV cache/)
})

test('a reply cut at max tokens says so in the collapsed line', async ({ app }) => {
  await newChat(app)
  await setMaxTokens(app, 8)
  await send(app, 'Tell me about the sea.')
  await replyDone(app)
  const stats = messages(app).last().getByTestId('message-stats')
  const summary = stats.getByRole('button', { name: /Generation stats/ })
  await expect(summary).toContainText('· cut at the token limit')
  await expect(summary.getByText('cut at the token limit')).toHaveAttribute('title', /max tokens/)
  await summary.click()
  await expect(stats).toContainText('Stopped bymax tokens reached')
})

test("expanding a reply's stats leaves its action buttons where they were", async ({ app }) => {
  await importConversations(app, hearthExport([{ title: 'Steady actions', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello.', stats: { ...SAMPLE_STATS, stopReason: 'length' } }] }]))
  await openConversation(app, 'Steady actions')
  const reply = messages(app).last()
  const actions = [reply.getByRole('button', { name: 'Copy message' }), reply.getByRole('button', { name: 'Regenerate reply' })]
  const before = await Promise.all(actions.map((button) => button.boundingBox()))
  expect(before.every((box) => box !== null)).toBe(true)

  await reply.getByRole('button', { name: /Generation stats/ }).click()
  await expect(reply.getByText('Time to first token', { exact: true })).toBeVisible()
  expect(await Promise.all(actions.map((button) => button.boundingBox()))).toEqual(before)
  // The details open below the actions, not beside them.
  const details = await reply.getByText('Time to first token', { exact: true }).boundingBox()
  expect(details!.y).toBeGreaterThan(before[0]!.y + before[0]!.height)
})
