// Speculative decoding in the app's services, with a scripted engine: the switch reaches every
// request, the chosen draft model is loaded beside its model (or why not is said), a new choice
// reloads the loaded model, and the compatible drafts are offered.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Events } from '../../../src-shared/api.ts'
import { DEFAULT_SETTINGS, type ModelStatus } from '../../../src-shared/types.ts'
import { appBackend } from '../../../src-main/app/app-backend.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { EventHub } from '../../../src-main/app/events.ts'
import { ModelService } from '../../../src-main/app/model-service.ts'
import { createModelLibrary } from '../../../src-main/models/library.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { ScriptedEngine } from './scripted-engine.ts'

let root: string
let modelsDir: string
let engine: ScriptedEngine
let app: App

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-speculation-'))
  modelsDir = path.join(root, 'models')
  // 'big' and the two 'small' ones share a vocabulary (one seed); 'stranger' has its own.
  await buildModel(path.join(modelsDir, 'big'), { layers: 3 })
  await buildModel(path.join(modelsDir, 'small'), { layers: 1 })
  await buildModel(path.join(modelsDir, 'small-2'), { layers: 2 })
  await buildModel(path.join(modelsDir, 'stranger'), { layers: 1, seed: 5 })
})
after(() => rm(root, { recursive: true, force: true }))

beforeEach(async () => {
  engine = new ScriptedEngine()
  app = await createApp({ shell: 'browser', version: '0.0.0', dataDir: await mkdtemp(path.join(root, 'data-')), modelsDir, engine })
})
afterEach(() => app.close())

/** Resolves with the next model status of this state. */
function nextStatus(state: ModelStatus['state']): Promise<ModelStatus> {
  return new Promise((resolve) => {
    const off = app.events.subscribe((name, payload) => {
      if (name !== 'modelStatus' || (payload as Events['modelStatus']).state !== state) return
      off()
      resolve(payload as ModelStatus)
    })
  })
}

/** One reply in a new chat with `big`, ended at once; returns the request the engine got. */
async function reply(): Promise<(typeof engine.requests)[number]> {
  const { id } = await app.api.createConversation({ modelId: 'big' })
  const count = engine.requests.length
  await app.api.send(id, 'hi')
  await engine.started()
  engine.finish()
  await app.api.stop(id)
  const request = engine.requests[count]
  assert.ok(request)
  return request
}

describe('Speculative decoding settings', () => {
  it('is on by default and asks every reply to speculate; off, every reply is plain', async () => {
    const settings = await app.api.getSettings()
    assert.equal(settings.speculativeDecoding, true)
    assert.deepEqual(settings.draftModels, {})
    assert.equal((await reply()).speculate, true)
    await app.api.setSettings({ speculativeDecoding: false })
    assert.equal((await reply()).speculate, false)
  })

  it('gives the API server its prediction and the switch', async () => {
    const library = createModelLibrary({ modelsDir })
    const settings = { ...DEFAULT_SETTINGS, speculativeDecoding: false }
    const models = new ModelService({ library, engine, events: new EventHub(), settings: () => settings, snapshotDir: path.join(root, 'kv'), snapshotBudgetBytes: 1 })
    const backend = appBackend({ library, models, engine, settings: () => settings })
    try {
      const answer = backend.generate('big', [{ role: 'user', content: 'Fix the typo' }], {}, () => undefined, new AbortController().signal, { prediction: 'The cat sat.' })
      await engine.started()
      engine.finish()
      await answer
      assert.equal(engine.requests[0]?.prediction, 'The cat sat.')
      assert.equal(engine.requests[0]?.speculate, false)
    } finally {
      models.dispose()
    }
  })
})

describe('Draft models', () => {
  it('offers the smaller models of the same vocabulary, smallest first', async () => {
    assert.deepEqual((await app.api.draftCandidates('big')).map((m) => m.id), ['small', 'small-2'])
    assert.deepEqual((await app.api.draftCandidates('small-2')).map((m) => m.id), ['small'])
    assert.deepEqual(await app.api.draftCandidates('stranger'), [])
    await assert.rejects(app.api.draftCandidates('nope'), (err: Error & { code?: string }) => err.code === 'NOT_FOUND')
  })

  it("loads the chosen draft's folder beside the model, resolved as the model's is", async () => {
    await app.api.setSettings({ draftModels: { big: 'small' } })
    const info = await app.api.loadModel('big')
    assert.equal(engine.loads[0]?.options.draftModelDir, path.join(modelsDir, 'small'))
    assert.equal(info.speculation.draftModelId, 'small')
    assert.equal(info.speculation.draftModelError, undefined)
    // Another model has no draft chosen.
    await app.api.loadModel('stranger')
    assert.equal(engine.loads[1]?.options.draftModelDir, undefined)
  })

  it('loads the model without a draft that is gone, and says why in its info', async () => {
    await app.api.setSettings({ draftModels: { big: 'deleted-model' } })
    const info = await app.api.loadModel('big')
    assert.equal(engine.loads[0]?.options.draftModelDir, undefined)
    assert.equal(info.speculation.draftModelId, null)
    assert.match(info.speculation.draftModelError ?? '', /draft model "deleted-model" is not in the models folder/)
    assert.deepEqual((await app.api.modelStatus()).info?.speculation, info.speculation)
  })

  it('reloads the loaded model, variant kept, when its draft changes, and only then', async () => {
    await app.api.loadModel('big', 'fp32')
    let reloaded = nextStatus('loaded')
    await app.api.setSettings({ draftModels: { big: 'small-2' } })
    assert.equal((await reloaded).info?.speculation.draftModelId, 'small-2')
    assert.equal(engine.loads.length, 2)
    assert.equal(engine.loads[1]?.options.draftModelDir, path.join(modelsDir, 'small-2'))
    assert.equal(engine.loads[1]?.options.variant, 'fp32')

    reloaded = nextStatus('loaded')
    await app.api.setSettings({ draftModels: {} })
    assert.equal((await reloaded).info?.speculation.draftModelId, null)
    assert.equal(engine.loads[2]?.options.draftModelDir, undefined)

    // Other settings, or a draft for another model, leave the loaded one as it is. Unloading
    // waits for any reload queued before it.
    await app.api.setSettings({ speculativeDecoding: false, draftModels: { stranger: 'small' } })
    await app.api.unloadModel()
    assert.equal(engine.loads.length, 3)
  })

  it('unloads the model whose draft is removed, and forgets the pair', async () => {
    await buildModel(path.join(modelsDir, 'doomed'), { layers: 1 })
    await app.api.setSettings({ draftModels: { big: 'doomed', stranger: 'small' } })
    await app.api.loadModel('big')
    await app.api.removeModel('doomed')
    assert.equal((await app.api.modelStatus()).state, 'unloaded')
    assert.deepEqual((await app.api.getSettings()).draftModels, { stranger: 'small' })
  })
})
