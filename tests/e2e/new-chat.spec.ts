// A new chat is a draft until its first message: nothing is listed before, the settings chosen in
// it go with that message, and the composer counts the message's tokens as it is typed.

import { expect, test } from './fixtures.ts'
import { messages, newChat, replyDone, send, setMaxTokens, sidebarItem } from './ui.ts'

test('lists a new chat only once its first message is sent, created with the settings chosen before', async ({ app }) => {
  const items = app.getByTestId('conversation-item')
  const before = await items.count()
  await newChat(app)
  await newChat(app)
  await expect(app.getByRole('heading', { level: 1, name: 'New chat' })).toBeVisible()
  await expect(items).toHaveCount(before)

  // Set up before the first message: a system prompt and a short reply.
  await setMaxTokens(app, 12)
  await app.getByRole('button', { name: 'Conversation settings' }).click()
  const panel = app.getByTestId('conversation-panel')
  await panel.getByLabel('System prompt').fill('Answer like a pirate.')
  await panel.getByLabel('System prompt').press('Tab')
  await panel.getByRole('button', { name: 'Close conversation settings' }).click()
  await expect(items).toHaveCount(before)

  await send(app, 'Which way to the harbour?')
  await expect(items).toHaveCount(before + 1)
  await expect(sidebarItem(app, 'Which way to the harbour?')).toBeVisible()
  await expect(app.getByRole('heading', { level: 1, name: 'Which way to the harbour?' })).toBeVisible()
  await expect(messages(app).first()).toContainText('Which way to the harbour?')
  await replyDone(app)
  await expect(messages(app)).toHaveCount(2)

  // Stored with what was chosen in the draft.
  await app.getByRole('button', { name: 'Conversation settings' }).click()
  await expect(panel.getByLabel('System prompt')).toHaveValue('Answer like a pirate.')
  await expect(panel.getByRole('spinbutton', { name: 'Max tokens' })).toHaveValue('12')
  await panel.getByRole('button', { name: 'Close conversation settings' }).click()

  // A draft left for another chat leaves nothing behind.
  await newChat(app)
  await app.getByRole('textbox', { name: 'Message' }).fill('never sent')
  await sidebarItem(app, 'Which way to the harbour?').getByRole('button', { name: 'Which way to the harbour?', exact: true }).click()
  await expect(app.getByRole('heading', { level: 1, name: 'Which way to the harbour?' })).toBeVisible()
  await expect(items).toHaveCount(before + 1)
})

test("counts the message's tokens as it is typed, against the context left", async ({ app }) => {
  await newChat(app)
  const composer = app.getByRole('textbox', { name: 'Message' })
  const count = app.getByTestId('token-count')
  await expect(count).toHaveCount(0)

  await composer.fill('Hello')
  await expect(count).toHaveText(/^(≈ )?\d+ tokens? · [\d,]+ left$/)
  const short = (await count.textContent()) ?? ''
  await composer.fill('Hello there, tell me everything you know about the lighthouses of the northern coast and their keepers.')
  await expect(count).not.toHaveText(short)
  const long = Number(/(\d[\d,]*) tokens/.exec((await count.textContent()) ?? '')?.[1]?.replace(/,/g, ''))
  expect(long).toBeGreaterThan(Number(/(\d+) token/.exec(short)?.[1]))

  await composer.fill('')
  await expect(count).toHaveCount(0)
})
