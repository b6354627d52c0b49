// Per-model load settings in the app's services, with a scripted engine that records load options:
// each field reaches the engine when that model loads (and only then), what the folder cannot honour
// is automatic again, the chat's context figures follow the cap, and removing the model forgets them.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { defaultThreads } from '../../../src-main/model-format/provider-defaults.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { ScriptedEngine } from './scripted-engine.ts'

let root: string
let modelsDir: string
let engine: ScriptedEngine
let app: App

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-load-settings-'))
  modelsDir = path.join(root, 'models')
  await buildModel(path.join(modelsDir, 'two-variants'), { q4: true, contextLength: 4096 })
  await buildModel(path.join(modelsDir, 'plain'), { seed: 5 })
})
after(() => rm(root, { recursive: true, force: true }))

beforeEach(async () => {
  engine = new ScriptedEngine()
  app = await createApp({ shell: 'browser', version: '0.0.0', dataDir: await mkdtemp(path.join(root, 'data-')), modelsDir, engine })
})
afterEach(() => app.close())

const isBadRequest = (err: unknown): boolean => (err as { code?: string }).code === 'BAD_REQUEST'

describe('Model load settings', () => {
  it("loads a model with its own context, variant, provider, threads and cache type, and others as Settings → Engine says", async () => {
    await app.api.setSettings({ threads: 3, modelLoadSettings: { 'two-variants': { contextLength: 1024, variant: 'q4', provider: 'cpu', threads: 2, kvDtype: 'float16' } } })
    const info = await app.api.loadModel('two-variants')
    const own = engine.loads[0]?.options
    assert.deepEqual([own?.contextLength, own?.variant, own?.providers, own?.threads, own?.kvDtype], [1024, 'q4', ['cpu'], 2, 'float16'])
    assert.deepEqual([info.contextLength, info.variant, info.kvDtype], [1024, 'q4', 'float16'])

    await app.api.loadModel('plain')
    const plain = engine.loads[1]?.options
    assert.deepEqual([plain?.contextLength, plain?.variant, plain?.threads, plain?.kvDtype], [undefined, undefined, 3, undefined])
  })

  it("runs at the model's own context when set longer, and chooses the variant again when the folder lacks it", async () => {
    await app.api.setSettings({ modelLoadSettings: { plain: { contextLength: 100_000, variant: 'q4' } } })
    await app.api.loadModel('plain')
    assert.equal(engine.loads[0]?.options.contextLength, 2048)
    assert.equal(engine.loads[0]?.options.variant, undefined)
  })

  it('lets a variant asked for at load win over the setting', async () => {
    await app.api.setSettings({ modelLoadSettings: { 'two-variants': { variant: 'q4', threads: 2 } } })
    await app.api.loadModel('two-variants', 'fp32')
    assert.equal(engine.loads[0]?.options.variant, 'fp32')
    assert.equal(engine.loads[0]?.options.threads, 2)
  })

  it('applies a change for the loaded model from its next load, not at once', async () => {
    await app.api.loadModel('two-variants')
    await app.api.setSettings({ modelLoadSettings: { 'two-variants': { contextLength: 512 } } })
    assert.equal(engine.loads.length, 1)
    assert.equal((await app.api.modelStatus()).info?.contextLength, 2048)
    await app.api.loadModel('two-variants')
    assert.equal(engine.loads[1]?.options.contextLength, 512)
    assert.equal((await app.api.modelStatus()).info?.contextLength, 512)
  })

  it("measures a chat against the capped context before the model is loaded", async () => {
    const chat = { modelId: 'two-variants' }
    const before = await app.api.countTokens(chat, 'Hello there', [])
    await app.api.setSettings({ modelLoadSettings: { 'two-variants': { contextLength: 1024 } } })
    const after = await app.api.countTokens(chat, 'Hello there', [])
    assert.equal(engine.loads.length, 0)
    assert.ok(before.contextLeft !== null && after.contextLeft !== null)
    assert.equal(before.contextLeft - after.contextLeft, 4096 - 1024)
  })

  it('refuses settings the engine cannot run, changing nothing', async () => {
    const refused = [
      { plain: { contextLength: 255 } },
      { plain: { contextLength: 1024.5 } },
      { plain: { threads: 0 } },
      { plain: { provider: 'remote' } },
      { plain: { variant: 'q3' } },
      { plain: { kvDtype: 'bfloat16' } },
      { plain: { kvType: 'float16' } },
    ]
    for (const modelLoadSettings of refused) {
      await assert.rejects(app.api.setSettings({ modelLoadSettings } as never), isBadRequest, JSON.stringify(modelLoadSettings))
    }
    assert.deepEqual((await app.api.getSettings()).modelLoadSettings, {})
  })

  it('forgets a removed model’s settings and keeps the others’', async () => {
    const doomed = path.join(modelsDir, 'doomed')
    await buildModel(doomed, { seed: 9 })
    await app.api.setSettings({ modelLoadSettings: { plain: { threads: 2 }, doomed: { contextLength: 512 } } })
    await app.api.removeModel('doomed')
    assert.deepEqual((await app.api.getSettings()).modelLoadSettings, { plain: { threads: 2 } })
  })

  it('judges the fit with the cache in the type asked for', async () => {
    const [own, half] = [await app.api.modelFit('plain', { context: 2048 }), await app.api.modelFit('plain', { context: 2048, kvDtype: 'float16' })]
    assert.deepEqual([own.chosen.variant, half.chosen.variant], ['fp32', 'fp32'])
    assert.equal(half.chosen.kvBytes * 2, own.chosen.kvBytes)
  })

  it('uses the machine’s threads when neither the model nor Settings → Engine names any', async () => {
    await app.api.loadModel('plain')
    assert.equal(engine.loads[0]?.options.threads, defaultThreads())
  })
})
