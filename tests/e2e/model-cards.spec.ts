// A model's card in Settings → Models says whether it fits this machine, when a chat last used it,
// and where its folder is.

import path from 'node:path'
import { expect, test } from './fixtures.ts'
import { closeSettings, newChat, openSettings, replyDone, send, setMaxTokens } from './ui.ts'

// A Hearth of its own: in one shared with other specs the model has been used already.
test.use({ models: { 'card-model': { shape: 'tiny', contextLength: 2048, seed: 11 } } })

test('a model card shows its fit, its last use in a chat, and its folder', async ({ app, hearth }) => {
  await openSettings(app, 'Models')
  const usage = app.getByTestId('library-model').getByTestId('model-usage')
  await expect(usage).toContainText('fits this machine')
  await expect(usage).toContainText('not used in a chat yet')
  // Browser mode cannot open folders on this computer: it offers the path instead.
  await expect(usage.getByRole('button', { name: 'Copy folder path' })).toHaveAttribute('title', path.join(hearth.modelsDir, 'card-model'))
  await closeSettings(app)

  await newChat(app)
  await setMaxTokens(app, 4)
  await send(app, 'Hello')
  await replyDone(app)
  await openSettings(app, 'Models')
  await expect(usage).toContainText('last used')
  await expect(usage).not.toContainText('not used in a chat yet')
})
