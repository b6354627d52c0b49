// The engine chip's details behave like any popover: Esc or a press elsewhere closes them.

import { expect, test } from './fixtures.ts'
import { newChat, pickModel } from './ui.ts'

test('the engine details close on Esc, focus back on the chip, and on a press outside them', async ({ app }) => {
  await newChat(app)
  await pickModel(app, 'tiny-chat')
  const status = app.getByTestId('engine-status')
  const chip = status.getByRole('button', { name: /CPU · fp32/ })
  // An earlier spec in this worker may have left the model loaded: then there is nothing to load.
  const load = status.getByRole('button', { name: /^Load (model|tiny-chat)$/ })
  await expect(chip.or(load)).toBeVisible()
  if (await load.isVisible()) await load.click()
  await expect(chip).toBeVisible({ timeout: 30_000 })
  const details = app.getByRole('region', { name: 'Execution provider details' })

  await chip.click()
  await expect(details).toBeVisible()
  await expect(chip).toHaveAttribute('aria-expanded', 'true')
  // The graph rewrites are there for whoever asks, not in the summary.
  await expect(details.getByTestId('fusions')).toBeHidden()
  await details.getByText('Engine details', { exact: true }).click()
  await expect(details.getByTestId('fusions')).toContainText('Fused into single kernels: rotary embedding')
  await app.keyboard.press('Escape')
  await expect(details).toBeHidden()
  await expect(chip).toHaveAttribute('aria-expanded', 'false')
  await expect(chip).toBeFocused()

  await chip.click()
  await expect(details).toBeVisible()
  await app.getByRole('textbox', { name: 'Message' }).click()
  await expect(details).toBeHidden()
  await expect(app.getByRole('textbox', { name: 'Message' })).toBeFocused()
})
