// Send is never disabled in silence: without a model the composer says why and offers the choice.

import { expect, test } from './fixtures.ts'
import { newChat } from './ui.ts'

test('says why Send is disabled while the chat has no model, and takes the user to the choice', async ({ app }) => {
  await newChat(app)
  const header = app.getByRole('region', { name: 'Chat' })
  await header.getByLabel('Model').selectOption('')
  await app.getByRole('textbox', { name: 'Message' }).fill('Hello there')
  await expect(app.getByRole('button', { name: 'Send message' })).toBeDisabled()
  // Typing hid the placeholder; the reason stays in view.
  await expect(app.getByTestId('send-blocked')).toHaveText('Choose a model above to start chatting.')
  await app.getByRole('button', { name: 'Choose a model' }).click()
  await expect(header.getByLabel('Model')).toBeFocused()
  await header.getByLabel('Model').selectOption({ label: 'tiny-chat' })
  await expect(app.getByTestId('send-blocked')).toHaveCount(0)
  await expect(app.getByRole('button', { name: 'Send message' })).toBeEnabled()
})
