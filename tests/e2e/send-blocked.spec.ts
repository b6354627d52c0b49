// Send is never disabled in silence: without a model the composer says why and offers the choice.

import { expect, test } from './fixtures.ts'
import { modelPicker, newChat, pickModel } from './ui.ts'

test('says why Send is disabled while the chat has no model, and takes the user to the choice', async ({ app }) => {
  await newChat(app)
  // No default model in Settings: "Default" leaves the chat without one.
  await pickModel(app, 'Default (none)')
  await app.getByRole('textbox', { name: 'Message' }).fill('Hello there')
  await expect(app.getByRole('button', { name: 'Send message' })).toBeDisabled()
  // Typing hid the placeholder; the reason stays in view.
  await expect(app.getByTestId('send-blocked')).toHaveText('Choose a model above to start chatting.')
  await app.getByRole('button', { name: 'Choose a model' }).click()
  const picker = modelPicker(app)
  await expect(picker.search).toBeFocused()
  await picker.list.getByRole('option', { name: 'tiny-chat', exact: true }).click()
  await expect(picker.button).toBeFocused()
  await expect(app.getByTestId('send-blocked')).toHaveCount(0)
  await expect(app.getByRole('button', { name: 'Send message' })).toBeEnabled()
})
