// Settings and per-conversation parameters as a person changes them, and all of it after a reload.

import { expect, test } from './fixtures.ts'
import { closeSettings, newChat, openSettings, replyDone } from './ui.ts'

test('changes appearance, defaults and engine settings, and finds them all after a reload', async ({ app }) => {
  await app.keyboard.press('Control+,')
  const dialog = app.getByRole('dialog', { name: 'Settings' })
  await expect(dialog).toBeVisible()

  await dialog.getByRole('radio', { name: 'Dark' }).check()
  await expect(app.locator('html')).toHaveAttribute('data-theme', 'dark')
  await dialog.getByRole('slider', { name: 'Font size' }).fill('18')
  await expect(app.locator('html')).toHaveCSS('font-size', '18px')
  await dialog.getByRole('checkbox', { name: /Enter sends the message/ }).uncheck()

  await openSettings(app, 'Chat defaults')
  await dialog.getByRole('combobox', { name: 'Default model' }).selectOption('tiny-chat')
  await dialog.getByRole('textbox', { name: 'Default system prompt' }).fill('Answer in one line.')
  await dialog.getByRole('textbox', { name: 'Default system prompt' }).press('Tab')
  // A default left blank is each model's own (its generation_config.json).
  await expect(dialog.getByRole('spinbutton', { name: 'Repetition penalty' })).toHaveAttribute('placeholder', "model's default")
  await dialog.getByRole('spinbutton', { name: 'Temperature' }).fill('0.3')
  await dialog.getByRole('spinbutton', { name: 'Temperature' }).press('Tab')
  await dialog.getByRole('textbox', { name: 'Stop strings' }).fill('END\n###')
  await dialog.getByRole('textbox', { name: 'Stop strings' }).press('Tab')

  await openSettings(app, 'Engine')
  await dialog.getByRole('combobox', { name: 'Execution provider' }).selectOption('cpu')
  await dialog.getByRole('spinbutton', { name: 'CPU threads' }).fill('2')
  await dialog.getByRole('spinbutton', { name: 'CPU threads' }).press('Tab')
  await dialog.getByRole('spinbutton', { name: /KV cache memory budget/ }).fill('256')
  await dialog.getByRole('spinbutton', { name: /KV cache memory budget/ }).press('Tab')
  await expect(dialog.getByRole('spinbutton', { name: /KV cache memory budget/ })).toHaveValue('256')
  await app.keyboard.press('Escape')
  await expect(dialog).toBeHidden()

  await app.reload()
  await expect(app.locator('html')).toHaveAttribute('data-theme', 'dark')
  await expect(app.locator('html')).toHaveCSS('font-size', '18px')
  await openSettings(app, 'General')
  await expect(dialog.getByRole('radio', { name: 'Dark' })).toBeChecked()
  await expect(dialog.getByRole('checkbox', { name: /Enter sends the message/ })).not.toBeChecked()
  await openSettings(app, 'Chat defaults')
  await expect(dialog.getByRole('combobox', { name: 'Default model' })).toHaveValue('tiny-chat')
  await expect(dialog.getByRole('textbox', { name: 'Default system prompt' })).toHaveValue('Answer in one line.')
  await expect(dialog.getByRole('spinbutton', { name: 'Temperature' })).toHaveValue('0.3')
  await expect(dialog.getByRole('textbox', { name: 'Stop strings' })).toHaveValue('END\n###')
  await openSettings(app, 'Engine')
  await expect(dialog.getByRole('combobox', { name: 'Execution provider' })).toHaveValue('cpu')
  await expect(dialog.getByRole('spinbutton', { name: 'CPU threads' })).toHaveValue('2')
  await expect(dialog.getByRole('spinbutton', { name: /KV cache memory budget/ })).toHaveValue('256')
  await closeSettings(app)

  // With "Enter sends" off, Enter breaks the line and Shift+Enter sends.
  await newChat(app)
  const composer = app.getByRole('textbox', { name: 'Message' })
  await composer.fill('one')
  await composer.press('Enter')
  await expect(composer).toHaveValue('one\n')

  // A new conversation shows the defaults it inherits; its own values persist.
  await app.getByRole('button', { name: 'Conversation settings' }).click()
  const panel = app.getByTestId('conversation-panel')
  await expect(panel.getByRole('spinbutton', { name: 'Temperature' })).toHaveAttribute('placeholder', '0.3 (default)')
  // The model names no penalty: none, rather than an app-wide 1.1.
  await expect(panel.getByRole('spinbutton', { name: 'Repetition penalty' })).toHaveAttribute('placeholder', '1 (default)')
  await expect(panel.getByRole('textbox', { name: 'System prompt' })).toHaveAttribute('placeholder', 'Answer in one line.')
  await panel.getByRole('spinbutton', { name: 'Top-k' }).fill('7')
  await panel.getByRole('spinbutton', { name: 'Top-k' }).press('Tab')
  await panel.getByRole('spinbutton', { name: 'Seed' }).fill('1234')
  await panel.getByRole('spinbutton', { name: 'Seed' }).press('Tab')
  await panel.getByRole('textbox', { name: 'System prompt' }).fill('You are a pirate.')
  await panel.getByRole('textbox', { name: 'System prompt' }).press('Tab')
  await panel.getByRole('combobox', { name: /outgrows the context/ }).selectOption('stop')
  await expect(panel.getByRole('combobox', { name: /outgrows the context/ })).toHaveValue('stop')
  // A new chat is stored with its first message, set up as it was before it.
  await composer.press('Shift+Enter')
  await expect(app.getByRole('heading', { level: 1, name: 'one' })).toBeVisible()
  await replyDone(app)

  await app.reload()
  await app.getByRole('button', { name: 'Conversation settings' }).click()
  await expect(panel.getByRole('spinbutton', { name: 'Top-k' })).toHaveValue('7')
  await expect(panel.getByRole('spinbutton', { name: 'Seed' })).toHaveValue('1234')
  await expect(panel.getByRole('spinbutton', { name: 'Temperature' })).toHaveValue('')
  await expect(panel.getByRole('textbox', { name: 'System prompt' })).toHaveValue('You are a pirate.')
  await expect(panel.getByRole('combobox', { name: /outgrows the context/ })).toHaveValue('stop')
  await panel.getByRole('button', { name: 'Use defaults' }).click()
  await expect(panel.getByRole('spinbutton', { name: 'Top-k' })).toHaveValue('')

  // Back to the defaults, so later tests on this server see a fresh app.
  await openSettings(app, 'General')
  await dialog.getByRole('radio', { name: 'System' }).check()
  await dialog.getByRole('slider', { name: 'Font size' }).fill('15')
  await dialog.getByRole('checkbox', { name: /Enter sends the message/ }).check()
  await openSettings(app, 'Engine')
  await dialog.getByRole('combobox', { name: 'Execution provider' }).selectOption('auto')
  await dialog.getByRole('spinbutton', { name: 'CPU threads' }).fill('')
  await dialog.getByRole('spinbutton', { name: 'CPU threads' }).press('Tab')
  await expect(app.locator('html')).toHaveCSS('font-size', '15px')
  await closeSettings(app)
})
