// A new chat is stored with its first message: startConversation creates and sends as one step,
// and a refused send leaves no conversation behind, nor says one appeared.

import Database from 'better-sqlite3'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Events } from '../../../src-shared/api.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { named, nextDone } from './app-events.ts'
import { ScriptedEngine } from './scripted-engine.ts'

let root: string
let engine: ScriptedEngine
let app: App
let dataDir: string
let events: { name: keyof Events; payload: unknown }[]

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-start-'))
  await buildModel(path.join(root, 'models', 'tiny'), { layers: 1 })
})

after(async () => {
  await rm(root, { recursive: true, force: true })
})

beforeEach(async () => {
  engine = new ScriptedEngine()
  dataDir = await mkdtemp(path.join(root, 'data-'))
  app = await createApp({ shell: 'browser', version: '0.0.0', dataDir, modelsDir: path.join(root, 'models'), engine })
  events = []
  app.events.subscribe((name, payload) => events.push({ name, payload }))
})

afterEach(() => app.close())

describe('Api#previewConversation', () => {
  it("fills a new chat's blanks from the settings, as creating it would, and stores nothing", async () => {
    await app.api.setSettings({ defaultSystemPrompt: 'Be kind.', defaultContextPolicy: 'truncate-middle', defaultParams: { temperature: 0.3 } })
    const { conversation, inheritedParams } = await app.api.previewConversation({ params: { maxTokens: 7 } })
    assert.deepEqual(
      [conversation.id, conversation.title, conversation.systemPrompt, conversation.contextPolicy, conversation.params],
      ['', 'New chat', 'Be kind.', 'truncate-middle', { maxTokens: 7 }],
    )
    assert.equal(inheritedParams.temperature, 0.3)
    assert.equal(inheritedParams.maxTokens, 7)
    assert.deepEqual(await app.api.listConversations(), [])
    const created = await app.api.createConversation({ params: { maxTokens: 7 } })
    assert.equal(created.systemPrompt, conversation.systemPrompt)
  })
})

describe('Api#startConversation', () => {
  it('stores the chat with the settings chosen before its first message, and starts the reply', async () => {
    const started = await app.api.startConversation(
      { modelId: 'tiny', systemPrompt: 'Answer in French.', params: { temperature: 0, maxTokens: 12 }, contextPolicy: 'stop' },
      'Where is the station?',
    )
    assert.equal(started.conversation.title, 'Where is the station?')
    assert.equal(started.reply.status, 'streaming')
    assert.deepEqual(
      (await app.api.listConversations()).map((c) => [c.id, c.modelId, c.systemPrompt, c.params, c.contextPolicy]),
      [[started.conversation.id, 'tiny', 'Answer in French.', { temperature: 0, maxTokens: 12 }, 'stop']],
    )
    await engine.started()
    assert.deepEqual(engine.requests[0]?.messages.map((m) => m.content), ['Answer in French.', 'Where is the station?'])
    assert.equal(engine.requests[0]?.params.maxTokens, 12)
    const done = nextDone(app)
    engine.finish()
    await done
    const view = await app.api.getConversation(started.conversation.id)
    assert.deepEqual(view.branch.map((e) => e.message.role), ['user', 'assistant'])
  })

  it('stores nothing when the send is refused, and no window hears of a conversation', async () => {
    await assert.rejects(app.api.startConversation({ modelId: 'gone' }, 'Hello'), { code: 'NOT_FOUND' })
    assert.deepEqual(await app.api.listConversations(), [])
    assert.deepEqual(named(events, 'conversationChanged'), [])
    // Nor does it wait in the trash for a purge: the row is gone.
    const db = new Database(path.join(dataDir, 'hearth.db'), { readonly: true })
    try {
      assert.deepEqual(db.prepare('SELECT count(*) AS n FROM conversations').get(), { n: 0 })
    } finally {
      db.close()
    }
  })
})
