// A chat longer than the model's small context: the turns left out are marked in the transcript,
// and a prompt that does not fit shows its own size in the context meter, the size the error states.

import { hearthExport, SAMPLE_STATS } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { importConversations, messages, openConversation, pickModel, replyDone, send, setMaxTokens } from './ui.ts'

test.use({ models: { 'tiny-chat': { shape: 'tiny', contextLength: 256, endless: true, seed: 7 } } })

const TURN = 'Tell me about the river that runs past the old mill, the stones it carries and the fish that live in it.'

test('marks the turns left out of the context, and shows an overflowing prompt at its real size', async ({ app }) => {
  const turns = Array.from({ length: 4 }, (_, i) => [
    { role: 'user' as const, content: `${i + 1}. ${TURN}` },
    { role: 'assistant' as const, content: `Answer ${i + 1}: ${TURN}`, stats: SAMPLE_STATS },
  ]).flat()
  await importConversations(app, hearthExport([{ title: 'Long talk', messages: turns }]))
  await openConversation(app, 'Long talk')
  await expect(messages(app).getByTestId('out-of-context')).toHaveCount(0)

  await pickModel(app, 'tiny-chat')
  await setMaxTokens(app, 16)
  await send(app, 'And the bridge?')
  await replyDone(app)
  await expect(messages(app).last()).toHaveAttribute('data-status', 'complete')
  await expect(messages(app).last().getByTestId('dropped-notice')).toBeVisible()
  const first = messages(app).first()
  await expect(first.getByTestId('out-of-context')).toHaveText("Not in the model's context")
  await expect(first).toHaveClass(/out-of-context/)
  const question = messages(app).nth(-2)
  await expect(question).toHaveText('And the bridge?')
  await expect(question.getByTestId('out-of-context')).toHaveCount(0)
  await expect(messages(app).last().getByTestId('out-of-context')).toHaveCount(0)

  await app.getByRole('button', { name: 'Conversation settings' }).click()
  const panel = app.getByTestId('conversation-panel')
  await panel.getByLabel('When the chat outgrows the context').selectOption('stop')
  await panel.getByRole('button', { name: 'Close conversation settings' }).click()
  await send(app, 'One more thing about the mill?')
  await replyDone(app)
  const failed = messages(app).last()
  await expect(failed).toHaveAttribute('data-status', 'error')
  const error = (await failed.getByRole('alert').textContent()) ?? ''
  const stated = /The conversation is (\d+) tokens/.exec(error)?.[1]
  expect(stated, error).toBeDefined()
  expect(Number(stated)).toBeGreaterThan(256)
  const meter = app.getByTestId('context-meter')
  await expect(meter).toContainText(`${Number(stated).toLocaleString('en-US')} / 256`)
  await expect(meter).toHaveAttribute('title', `Context: the last prompt was ${Number(stated).toLocaleString('en-US')} tokens, beyond the model's 256`)
  await expect(failed.getByTestId('message-stats')).toHaveCount(0)
})
