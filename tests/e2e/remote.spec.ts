// A Hearth with no model of its own adds another Hearth's API server as a remote server in the
// model settings, chats with its model, and shows a clear error once that server is down.

import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { buildModel, type BuildOptions } from '../../tools/model-builder/build-model.ts'
import { CHAT_MODEL, expect, startHearth, stopHearth, test, type HearthServer } from './fixtures.ts'
import { closeModels, messages, modelPicker, newChat, openModels, replyDone, send } from './ui.ts'

test.use({ models: {} })
test.describe.configure({ mode: 'serial' })

let root: string
let serving: HearthServer
let apiUrl: string

/** A port nothing listens on right now, for the serving Hearth's API server. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

test.beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-e2e-serving-'))
  await buildModel(path.join(root, 'models', 'tiny-chat'), CHAT_MODEL['tiny-chat'] as Partial<BuildOptions>)
  const port = await freePort()
  serving = await startHearth({ dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') }, ['--api', '--api-port', String(port)])
  apiUrl = `http://127.0.0.1:${port}/v1`
})

test.afterAll(async () => {
  await stopHearth(serving)
  await rm(root, { recursive: true, force: true })
})

test('adds another Hearth as a remote server and chats with its model, then reports it down', async ({ app }) => {
  await expect(app.getByTestId('empty-state')).toBeVisible()
  await openModels(app, 'Remote')
  await app.getByLabel('Server address').fill(apiUrl)
  await app.getByRole('button', { name: 'Add server' }).click()
  const provider = app.getByTestId('remote-provider')
  await expect(provider).toContainText('1 model')
  await expect(provider).toContainText('no API key')
  await closeModels(app)

  await newChat(app)
  // The only model there is: the server's, named with the server.
  await expect(modelPicker(app).button).toHaveText(/^tiny-chat · 127\.0\.0\.1/)
  await expect(app.getByText('your messages are sent there')).toBeVisible()
  await send(app, 'Hello from the other Hearth')
  await replyDone(app)
  const reply = messages(app).last()
  await expect(reply).toHaveAttribute('data-status', 'complete')
  await expect(reply.getByTestId('message-stats')).toContainText('Remote')

  await stopHearth(serving)
  await send(app, 'Are you still there?')
  await replyDone(app)
  await expect(messages(app).last()).toHaveAttribute('data-status', 'error')
  await expect(messages(app).last().getByRole('alert')).toContainText(/Could not reach the server at .*connection refused/)
})
