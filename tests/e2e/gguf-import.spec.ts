// Bringing a GGUF model as a person would: type its path (or import it from another app's folder),
// watch the conversion end, and chat with the real trained stories260K model.

import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Page } from '@playwright/test'
import { STORIES_GGUF, storiesMissing } from '../../tools/stories-fixture.ts'
import { expect, startHearth, stopHearth, test } from './fixtures.ts'
import { closeModels, messages, modelsPage, newChat, openModels, pickModel, replyDone, send, setMaxTokens } from './ui.ts'

const missing = storiesMissing()

test.use({ models: {} })

/** Greedy decoding: the only setting under which the reply is the model's one continuation. */
async function setTemperatureZero(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Conversation settings' }).click()
  const panel = page.getByTestId('conversation-panel')
  const field = panel.getByRole('spinbutton', { name: 'Temperature' })
  await field.fill('0')
  await field.press('Tab')
  await expect(field).toHaveValue('0')
  await panel.getByRole('button', { name: 'Close conversation settings' }).click()
}

// First: the worker's server has no model yet, so the empty state is where a person adds one.
test('says why a file cannot be added', async ({ app, hearth }) => {
  const notModel = path.join(hearth.dataDir, 'notes.gguf')
  await writeFile(notModel, 'these are notes, not a model')
  const emptyState = app.getByTestId('empty-state')
  await expect(emptyState).toContainText('A folder or a .gguf file can be added')
  await emptyState.getByRole('textbox', { name: 'Model folder or GGUF file to add' }).fill(notModel)
  await emptyState.getByRole('button', { name: 'Add', exact: true }).click()
  await expect(emptyState.getByRole('alert')).toHaveText(`Could not add the model: ${notModel} is neither a model folder nor a GGUF file (a GGUF starts with the bytes "GGUF")`)
})

test('imports stories260K.gguf by its path, shows what the conversion did, and continues a story with it', async ({ app }) => {
  test.skip(missing !== null, missing ?? '')
  await app.getByRole('textbox', { name: 'Model folder or GGUF file to add' }).fill(STORIES_GGUF)
  await app.getByRole('button', { name: 'Add', exact: true }).click()
  await expect(app.getByTestId('toast').filter({ hasText: 'Added stories260K' })).toBeVisible({ timeout: 30_000 })
  await expect(app.getByTestId('import-progress')).toHaveCount(0)
  await expect(app.getByTestId('empty-state')).toBeHidden()

  await openModels(app)
  const model = modelsPage(app).getByTestId('library-model').filter({ hasText: 'stories260K' })
  await expect(model).toContainText(/\d+K parameters/)
  await expect(model.getByTestId('conversion')).toContainText('Converted from stories260K.gguf (llama, 48 F32 tensors) as fp32 — 36 float, 0 exact, 0 requantized')
  await closeModels(app)

  await newChat(app)
  await pickModel(app, 'stories260K')
  await setTemperatureZero(app)
  await setMaxTokens(app, 40)
  await send(app, 'Once upon a time')
  await replyDone(app)
  await expect(messages(app).last()).toContainText(', there was a little girl named Lily. She loved to play outside in the park.')
})

test("offers a model from Ollama's store under its name and imports it with one click", async ({ page }) => {
  test.skip(missing !== null, missing ?? '')
  const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-e2e-found-'))
  const store = path.join(root, 'home', '.ollama', 'models')
  const hex = '5'.repeat(64)
  await mkdir(path.join(store, 'blobs'), { recursive: true })
  await copyFile(STORIES_GGUF, path.join(store, 'blobs', `sha256-${hex}`))
  const tags = path.join(store, 'manifests', 'registry.ollama.ai', 'library', 'stories')
  await mkdir(tags, { recursive: true })
  await writeFile(path.join(tags, '260k'), JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}`, size: 1 }] }))
  const server = await startHearth(
    { dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') },
    [],
    { HOME: path.join(root, 'home'), OLLAMA_MODELS: store },
  )
  try {
    await page.goto(server.url)
    const found = page.getByTestId('found-model').filter({ hasText: 'stories:260k' })
    await expect(found).toContainText('Ollama')
    await found.getByRole('button', { name: 'Import stories:260k from Ollama' }).click()
    await expect(page.getByTestId('toast').filter({ hasText: 'Added stories-260k' })).toBeVisible({ timeout: 30_000 })
    await openModels(page)
    const dialog = modelsPage(page)
    await expect(dialog.getByTestId('library-model').filter({ hasText: 'stories-260k' }).getByTestId('conversion')).toContainText('Converted from stories:260k (llama,')
    await expect(dialog.getByTestId('found-model').filter({ hasText: 'stories:260k' })).toContainText('In the library')
  } finally {
    await stopHearth(server)
    await rm(root, { recursive: true, force: true })
  }
})
