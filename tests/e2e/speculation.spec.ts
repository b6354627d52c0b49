// Speculative decoding as a person meets it: the switch in Settings, a model's draft model, what
// the model info says, and how many drafted tokens a reply kept.

import { hearthExport, SAMPLE_STATS } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import type { Page } from '@playwright/test'
import { closeModels, closeSettings, importConversations, messages, modelsPage, newChat, openConversation, openModels, openSettings, pickModel, replyDone, send, setMaxTokens } from './ui.ts'

// One vocabulary (one seed): the one-layer model is smaller, so it can draft for the other.
// 'stranger' has a vocabulary of its own.
test.use({
  models: {
    'tiny-chat': { shape: 'tiny', contextLength: 4096, endless: true, seed: 7 },
    'tiny-draft': { shape: 'tiny', layers: 1, seed: 7 },
    stranger: { shape: 'tiny', layers: 1, seed: 8 },
  },
})

test.describe.configure({ mode: 'serial' })

/** A model's card in the model manager, found by its heading (not by a draft option naming it). */
function libraryItem(page: Page, name: string) {
  return modelsPage(page).getByTestId('library-model').filter({ has: page.getByRole('heading', { name, exact: true }) })
}

test('turns speculative decoding off and on in Settings, and it stays so after a reload', async ({ app }) => {
  await openSettings(app, 'Engine')
  const dialog = app.getByRole('dialog', { name: 'Settings' })
  const toggle = dialog.getByRole('checkbox', { name: 'Speculative decoding' })
  await expect(toggle).toBeChecked()
  await expect(toggle).toHaveAccessibleDescription('Guesses tokens ahead and checks several per step; replies are unchanged.')
  await toggle.uncheck()
  await app.reload()
  await openSettings(app, 'Engine')
  await expect(toggle).not.toBeChecked()
  await toggle.check()
  await app.reload()
  await openSettings(app, 'Engine')
  await expect(toggle).toBeChecked()
  await closeSettings(app)
})

test('shows how many drafted tokens a stored reply kept, and from where', async ({ app }) => {
  const speculation = { drafted: 120, accepted: 96, passes: 30, sources: ['lookup', 'model'] as ('lookup' | 'model')[] }
  await importConversations(
    app,
    hearthExport([
      { title: 'Rewrite', messages: [{ role: 'user', content: 'Fix the typos' }, { role: 'assistant', content: 'Fixed.', stats: { ...SAMPLE_STATS, speculation } }] },
      { title: 'Plain', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello.', stats: SAMPLE_STATS }] },
    ]),
  )
  await openConversation(app, 'Rewrite')
  const stats = messages(app).last().getByTestId('message-stats')
  // The compact line stays as it was.
  await expect(stats.getByRole('button', { name: /Generation stats/ })).not.toContainText('Drafted')
  await stats.getByRole('button', { name: /Generation stats/ }).click()
  await expect(stats.getByTestId('speculation-figures')).toHaveText('Drafted 120 · accepted 96 (80%) in 30 checks')
  await expect(stats).toContainText("Drafted fromthe conversation's text, the draft model")

  await openConversation(app, 'Plain')
  const plain = messages(app).last().getByTestId('message-stats')
  await plain.getByRole('button', { name: /Generation stats/ }).click()
  await expect(plain).toContainText('Decode speed')
  await expect(plain).not.toContainText('Speculation')
})

test('offers the smaller model of the same vocabulary as the draft model, and keeps the choice', async ({ app }) => {
  await openModels(app)
  const draft = libraryItem(app, 'tiny-chat').getByRole('combobox', { name: 'Draft model for tiny-chat' })
  await expect(draft.locator('option')).toHaveText(['None', /^tiny-draft · \d+K parameters$/])
  await expect(draft).toHaveValue('')
  // Nothing smaller shares a vocabulary with the others: they offer no choice.
  await expect(libraryItem(app, 'tiny-draft')).toBeVisible()
  await expect(libraryItem(app, 'tiny-draft').getByTestId('draft-model')).toHaveCount(0)
  await expect(libraryItem(app, 'stranger').getByTestId('draft-model')).toHaveCount(0)

  await draft.selectOption('tiny-draft')
  await app.reload()
  await openModels(app)
  await expect(draft).toHaveValue('tiny-draft')
  await expect(libraryItem(app, 'tiny-chat').getByTestId('draft-model')).toContainText('A smaller model with the same vocabulary guesses tokens')
  await closeModels(app)
})

test('loads the draft model with the model, says so in the model info, and a reply shows what was drafted', async ({ app }) => {
  await openModels(app)
  await libraryItem(app, 'tiny-chat').getByRole('combobox', { name: 'Draft model for tiny-chat' }).selectOption('tiny-draft')
  await closeModels(app)
  await newChat(app)
  await pickModel(app, 'tiny-chat')
  const status = app.getByTestId('engine-status')
  await status.getByRole('button', { name: 'Load model' }).or(status.getByRole('button', { name: 'Load tiny-chat' })).click()
  const chip = status.getByRole('button', { name: /CPU · fp32/ })
  await expect(chip).toBeVisible({ timeout: 30_000 })
  await chip.click()
  const details = app.getByRole('region', { name: 'Execution provider details' })
  await expect(details.getByTestId('speculation')).toHaveText("Speculative decoding: drafts from the conversation's text and tiny-draft")
  await chip.click()

  await setMaxTokens(app, 48)
  await send(app, 'Tell me a story about the sea.')
  await replyDone(app)
  const stats = messages(app).last().getByTestId('message-stats')
  await stats.getByRole('button', { name: /Generation stats/ }).click()
  // The draft model guesses at every step until drafting stops paying: this reply checked drafts.
  await expect(stats.getByTestId('speculation-figures')).toHaveText(/^Drafted \d+ · accepted \d+ \(\d+%\) in \d+ checks?$/)
  await expect(stats).toContainText('the draft model')

  // Changed while the model is loaded, the choice applies at once: the model loads again without it, then with it.
  await openModels(app)
  const item = libraryItem(app, 'tiny-chat')
  const draft = item.getByRole('combobox', { name: 'Draft model for tiny-chat' })
  await draft.selectOption('')
  await expect(item.getByTestId('draft-model')).toContainText('A smaller model with the same vocabulary', { timeout: 30_000 })
  await expect(item).toContainText('Loaded · fp32 · CPU', { timeout: 30_000 })
  await draft.selectOption('tiny-draft')
  await expect(item.getByTestId('draft-model')).toContainText('In use', { timeout: 30_000 })
  await closeModels(app)
  await chip.click()
  await expect(details.getByTestId('speculation')).toHaveText("Speculative decoding: drafts from the conversation's text and tiny-draft")
})
