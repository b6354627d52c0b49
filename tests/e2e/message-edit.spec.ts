// Changing the history by hand as a person would: rewrite the model's reply, carry on from it, delete a turn and undo.

import { expect, test } from './fixtures.ts'
import { messages, newChat, replyDone, send, setMaxTokens } from './ui.ts'

test.describe.configure({ mode: 'serial' })

test('edits a reply into a second branch that the next turn builds on, and keeps the original', async ({ app }) => {
  await newChat(app)
  await setMaxTokens(app, 20)
  await send(app, 'Name a colour')
  await replyDone(app)
  const reply = messages(app).last()
  const original = (await reply.locator('.md').textContent()) ?? ''

  await reply.hover()
  await reply.getByRole('button', { name: 'Edit reply' }).click()
  const editor = app.getByRole('textbox', { name: 'Edit the reply' })
  await expect(editor).not.toHaveValue('')
  await editor.fill('Blue.')
  // A reply is markdown: Enter breaks a line, Ctrl+Enter saves.
  await editor.press('Enter')
  await editor.pressSequentially('Like the sea.')
  await expect(editor).toHaveValue('Blue.\nLike the sea.')
  await editor.press('Control+Enter')

  await expect(reply.locator('.md')).toHaveText(/Blue\.\s*Like the sea\./)
  await expect(reply.getByTestId('edited')).toHaveText('Edited')
  await expect(reply.getByTestId('branch-count')).toHaveText('2/2')
  await expect(reply.getByTestId('message-stats')).toHaveCount(0)
  await expect(app.getByRole('button', { name: 'Send message' })).toBeVisible()
  await expect(messages(app)).toHaveCount(2)

  // The editor starts from the stored text, lines and all; Esc leaves it unchanged.
  await reply.getByRole('button', { name: 'Edit reply' }).click()
  await expect(editor).toHaveValue('Blue.\nLike the sea.')
  await editor.press('Escape')
  await expect(editor).toHaveCount(0)
  await expect(reply.getByTestId('branch-count')).toHaveText('2/2')

  await send(app, 'And another?')
  await replyDone(app)
  await expect(messages(app)).toHaveCount(4)
  await expect(messages(app).nth(1).locator('.md')).toHaveText(/Blue\.\s*Like the sea\./)
  await expect(messages(app).nth(1).getByTestId('branch-count')).toHaveText('2/2')

  await messages(app).nth(1).getByRole('button', { name: 'Previous branch' }).click()
  await expect(messages(app).nth(1).getByTestId('branch-count')).toHaveText('1/2')
  await expect(messages(app).nth(1).locator('.md')).toHaveText(original)
  await expect(messages(app).nth(1).getByTestId('edited')).toHaveCount(0)
  await expect(messages(app), 'the next turn hangs under the edited reply only').toHaveCount(2)

  await messages(app).nth(1).getByRole('button', { name: 'Next branch' }).click()
  await expect(messages(app)).toHaveCount(4)
  await expect(messages(app).nth(2)).toHaveText('And another?')
})

test('deletes a message with everything below it from the keyboard, and Undo brings it back', async ({ app }) => {
  await newChat(app)
  await setMaxTokens(app, 20)
  await send(app, 'First question')
  await replyDone(app)
  await send(app, 'Second question')
  await replyDone(app)
  await expect(messages(app)).toHaveCount(4)
  const lastReply = (await messages(app).last().locator('.md').textContent()) ?? ''

  const second = messages(app).nth(2)
  const remove = second.getByRole('button', { name: 'Delete message' })
  await remove.focus()
  await remove.press('Enter')

  await expect(messages(app)).toHaveCount(2)
  await expect(messages(app).first()).toHaveText('First question')
  const toast = app.getByTestId('toast').filter({ hasText: 'Message deleted' })
  await toast.getByRole('button', { name: 'Undo' }).click()

  await expect(messages(app)).toHaveCount(4)
  await expect(messages(app).nth(2)).toHaveText('Second question')
  await expect(messages(app).last().locator('.md')).toHaveText(lastReply)

  // A reply alone: the branch ends at the question it answered.
  await messages(app).last().getByRole('button', { name: 'Delete message' }).click()
  await expect(messages(app)).toHaveCount(3)
  await expect(messages(app).last()).toHaveText('Second question')
})
