// The composer's live count through the Api: the model's tokenizer only when it is loaded and
// idle, an estimate otherwise (never a load, never a wait behind a reply), and the context left.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { remoteModelId } from '../../../src-main/remote/remote-providers.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { nextDone } from './app-events.ts'
import { ScriptedEngine } from './scripted-engine.ts'

/** A tokenizer unlike the estimate (four characters a token): one token a word. */
class WordEngine extends ScriptedEngine {
  override async countTokens(texts: string[]): Promise<number[]> {
    this.counted.push(...texts)
    return texts.map((t) => t.split(/\s+/).filter(Boolean).length)
  }
}

/** Per message, as documents.ts counts a chat template's markers. */
const TEMPLATE = 8

let root: string
let engine: WordEngine
let app: App

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-token-count-'))
  await buildModel(path.join(root, 'models', 'tiny'), { layers: 1 })
})

after(async () => {
  await rm(root, { recursive: true, force: true })
})

beforeEach(async () => {
  engine = new WordEngine()
  engine.contextLength = 1000
  app = await createApp({ shell: 'browser', version: '0.0.0', dataDir: await mkdtemp(path.join(root, 'data-')), modelsDir: path.join(root, 'models'), engine })
})

afterEach(() => app.close())

describe('Api#countTokens', () => {
  it('estimates with no model loaded, against the model config’s context, and loads nothing', async () => {
    const count = await app.api.countTokens({ modelId: 'tiny', systemPrompt: 'Be brief.' }, 'one two three four five', [])
    // 23 characters: 6 tokens by the estimate; the system prompt 3 (9 characters) and its template's 8.
    assert.deepEqual(count, { tokens: 6, contextLeft: 2048 - (3 + TEMPLATE) - 6 - TEMPLATE, estimated: true })
    assert.deepEqual(engine.loads, [])
    assert.deepEqual(engine.counted, [])
  })

  it("counts with the loaded model's tokenizer and its context when the engine is idle", async () => {
    await app.api.loadModel('tiny')
    const count = await app.api.countTokens({ modelId: 'tiny', systemPrompt: 'Be brief.' }, 'one two three four five', [])
    assert.deepEqual(count, { tokens: 5, contextLeft: 1000 - (2 + TEMPLATE) - 5 - TEMPLATE, estimated: false })
    assert.equal(engine.loads.length, 1)
  })

  it('answers at once with an estimate while a reply is being written, and the engine is not asked', async () => {
    await app.api.loadModel('tiny')
    const { id } = await app.api.createConversation({ systemPrompt: '' })
    await app.api.send(id, 'Hello')
    await engine.started()
    const asked = engine.counted.length
    const count = await app.api.countTokens(id, 'one two three four five', [])
    assert.equal(count.estimated, true)
    assert.equal(count.tokens, 6)
    assert.equal(engine.counted.length, asked)
    const done = nextDone(app)
    engine.finish()
    await done
    assert.equal((await app.api.countTokens(id, 'one two three four five', [])).estimated, false)
  })

  it("takes the context a chat has used from its last reply's stats", async () => {
    await app.api.loadModel('tiny')
    const { id } = await app.api.createConversation({ systemPrompt: '' })
    await app.api.send(id, 'Hello')
    await engine.started()
    engine.token('Hi there friend')
    const done = nextDone(app)
    engine.finish()
    await done
    // The scripted stats: a 10-token prompt and one token a character of the reply (15).
    const count = await app.api.countTokens(id, 'and now?', [])
    assert.deepEqual(count, { tokens: 2, contextLeft: 1000 - (10 + 15) - 2 - TEMPLATE, estimated: false })
  })

  it("counts a message's documents, each once per model, and says when they overflow the context", async () => {
    await app.api.loadModel('tiny')
    const text = Array.from({ length: 1200 }, (_, i) => `word${i}`).join(' ')
    const doc = await app.api.attachDocument('a1', 'long.txt', Buffer.from(text).toString('base64'))
    const first = await app.api.countTokens({ modelId: 'tiny', systemPrompt: '' }, 'Summarise this', [doc.id])
    assert.deepEqual(first, { tokens: 2 + 1200, contextLeft: 1000 - 1202 - TEMPLATE, estimated: false })
    const countedBefore = engine.counted.length
    const again = await app.api.countTokens({ modelId: 'tiny', systemPrompt: '' }, 'Summarise this please', [doc.id])
    assert.equal(again.tokens, 3 + 1200)
    assert.deepEqual(engine.counted.slice(countedBefore), ['Summarise this please'], 'the document is not tokenized again')
  })

  it("estimates for a remote model and leaves the unknown context unsaid", async () => {
    const count = await app.api.countTokens({ modelId: remoteModelId('abcd1234', 'gpt-x'), systemPrompt: '' }, 'one two three four five', [])
    assert.deepEqual(count, { tokens: 6, contextLeft: null, estimated: true })
  })
})
