// The model cards' facts from main: when each model last wrote a reply, and its folder opened by
// the desktop app's file manager (browser mode has none, and says so).

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import { createApp } from '../../../src-main/app/app.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { nextDone } from './app-events.ts'
import { ScriptedEngine } from './scripted-engine.ts'

let root: string

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-model-usage-'))
  await buildModel(path.join(root, 'models', 'tiny'), { layers: 1 })
})

after(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('Model usage and folders', () => {
  it('says when each model last wrote a reply, and nothing for one never used', async (t) => {
    let now = 1_750_000_000_000
    const engine = new ScriptedEngine()
    const app = await createApp({ shell: 'browser', version: '0', dataDir: await mkdtemp(path.join(root, 'data-')), modelsDir: path.join(root, 'models'), engine, store: { now: () => now } })
    t.after(() => app.close())
    assert.deepEqual(await app.api.modelsLastUsed(), {})
    const { conversation } = await app.api.startConversation({ modelId: 'tiny' }, 'hello')
    await engine.started()
    const done = nextDone(app)
    engine.token('hi')
    engine.finish()
    await done
    const first = await app.api.modelsLastUsed()
    assert.deepEqual(Object.keys(first), ['tiny'])
    now += 60_000
    await app.api.send(conversation.id, 'again')
    await engine.started()
    const again = nextDone(app)
    engine.finish()
    await again
    assert.equal((await app.api.modelsLastUsed())['tiny'], (first['tiny'] ?? 0) + 60_000)
  })

  it('opens a model’s folder where the shell can, and says browser mode cannot', async (t) => {
    const opened: string[] = []
    const desktop = await createApp({
      shell: 'electron',
      version: '0',
      dataDir: await mkdtemp(path.join(root, 'data-')),
      modelsDir: path.join(root, 'models'),
      engine: new ScriptedEngine(),
      openPath: async (dir) => void opened.push(dir),
    })
    t.after(() => desktop.close())
    await desktop.api.openModelFolder('tiny')
    assert.deepEqual(opened, [path.join(root, 'models', 'tiny')])
    await assert.rejects(desktop.api.openModelFolder('nothing-here'), (err: unknown) => err instanceof AppError && err.code === 'NOT_FOUND')

    const browser = await createApp({ shell: 'browser', version: '0', dataDir: await mkdtemp(path.join(root, 'data-')), modelsDir: path.join(root, 'models'), engine: new ScriptedEngine() })
    t.after(() => browser.close())
    await assert.rejects(browser.api.openModelFolder('tiny'), (err: unknown) => err instanceof AppError && err.code === 'MODEL_UNSUPPORTED')
  })
})
