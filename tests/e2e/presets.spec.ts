// Presets: one made in Settings starts a new chat with its system prompt and parameters; a chat's
// settings saved as a preset appear in Settings.

import { expect, test } from './fixtures.ts'
import { closeSettings, messages, newChat, openSettings, replyDone, send } from './ui.ts'

test('a preset made in Settings starts a new chat with its prompt and parameters, and a chat saves its own as one', async ({ app }) => {
  await openSettings(app, 'Presets')
  const dialog = app.getByRole('dialog', { name: 'Settings' })
  await dialog.getByRole('button', { name: 'New preset' }).click()
  const preset = dialog.getByTestId('preset')
  await expect(preset).toHaveCount(1)
  await preset.getByRole('textbox', { name: 'Name' }).fill('Pirate')
  await preset.getByRole('textbox', { name: 'Name' }).press('Tab')
  await preset.getByRole('textbox', { name: 'System prompt' }).fill('Talk like a pirate.')
  await preset.getByRole('textbox', { name: 'System prompt' }).press('Tab')
  const maxTokens = preset.getByRole('spinbutton', { name: 'Max tokens' })
  await maxTokens.fill('6')
  await maxTokens.press('Tab')
  await preset.getByRole('button', { name: 'Done' }).click()
  await expect(preset).toContainText('Pirate')
  await expect(preset).toContainText('1 parameter set')
  await closeSettings(app)

  await newChat(app)
  const chip = app.getByRole('group', { name: 'Start from a preset' }).getByRole('button', { name: 'Pirate' })
  await chip.click()
  await expect(chip).toHaveAttribute('aria-pressed', 'true')
  await send(app, 'Ahoy?')
  await replyDone(app)
  // The preset's max tokens held the reply to six tokens.
  await expect(messages(app).last().getByTestId('message-stats')).toContainText('cut at the token limit')
  await app.getByRole('button', { name: 'Conversation settings' }).click()
  const panel = app.getByTestId('conversation-panel')
  await expect(panel.getByRole('textbox', { name: 'System prompt' })).toHaveValue('Talk like a pirate.')
  await expect(panel.getByRole('spinbutton', { name: 'Max tokens' })).toHaveValue('6')

  await panel.getByRole('button', { name: 'Save these settings as a preset' }).click()
  await expect(app.getByTestId('toast').filter({ hasText: 'Saved the preset “Ahoy?”' })).toBeVisible()
  await openSettings(app, 'Presets')
  await expect(dialog.getByTestId('preset')).toHaveCount(2)
  await expect(dialog.getByTestId('preset').last()).toContainText('Ahoy?')
})
