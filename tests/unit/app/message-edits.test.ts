// Rewriting a reply and deleting messages through the Api, with a real store and a scripted engine:
// what the next prompt reads, what the branch shows, and that neither happens while a reply is written.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { AppError } from '../../../src-shared/errors.ts'
import type { ConversationView } from '../../../src-shared/types.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { named, nextDone, type Recorded } from './app-events.ts'
import { ScriptedEngine } from './scripted-engine.ts'

let root: string
let engine: ScriptedEngine
let app: App
let events: Recorded

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-message-edits-'))
  await buildModel(path.join(root, 'models', 'tiny'), { layers: 1 })
})

after(async () => {
  await rm(root, { recursive: true, force: true })
})

beforeEach(async () => {
  engine = new ScriptedEngine()
  const dataDir = await mkdtemp(path.join(root, 'data-'))
  app = await createApp({ shell: 'browser', version: '0.0.0', dataDir, modelsDir: path.join(root, 'models'), engine })
  events = []
  app.events.subscribe((name, payload) => events.push({ name, payload }))
})

afterEach(() => app.close())

/** Sends `text` and lets the engine answer `answer`; returns the reply's id. */
async function turn(conversationId: string, text: string, answer: string): Promise<string> {
  const { reply } = await app.api.send(conversationId, text)
  await engine.started()
  engine.token(answer)
  const done = nextDone(app)
  engine.finish()
  await done
  return reply.id
}

function show(view: ConversationView): string[] {
  return view.branch.map((e) => `${e.message.content} ${e.siblingIndex + 1}/${e.siblingIds.length}`)
}

const busy = (err: AppError) => err.code === 'ENGINE_BUSY'

describe('Api#editReply', () => {
  it('keeps the model\'s reply as a branch, shows the user\'s text, and the next prompt reads it', async () => {
    const { id } = await app.api.createConversation()
    const original = await turn(id, 'What is 2 + 2?', 'It is 5.')
    const edited = await app.api.editReply(original, 'It is 4.')
    assert.equal(edited.edited, true)
    assert.equal(edited.modelId, (await app.api.getConversation(id)).branch[1]?.message.modelId)
    assert.deepEqual(named(events, 'messageChanged').at(-1)?.message.id, edited.id)
    assert.deepEqual(show(await app.api.getConversation(id)), ['What is 2 + 2? 1/1', 'It is 4. 2/2'])
    assert.equal(engine.requests.length, 1, 'an edit generates nothing')

    await turn(id, 'And times 3?', '12.')
    const prompt = engine.requests[1]?.messages.filter((m) => m.role !== 'system')
    assert.deepEqual(prompt?.map((m) => m.content), ['What is 2 + 2?', 'It is 4.', 'And times 3?'])

    await app.api.switchBranch(original)
    assert.deepEqual(show(await app.api.getConversation(id)), ['What is 2 + 2? 1/1', 'It is 5. 1/2'])
  })

  it('refuses while the conversation generates, and takes a user message for no reply', async () => {
    const { id } = await app.api.createConversation()
    const first = await turn(id, 'one', 'reply one')
    const second = await app.api.send(id, 'two')
    await assert.rejects(app.api.editReply(first, 'changed'), busy)
    await assert.rejects(app.api.deleteMessage(first), busy)
    await engine.started()
    const done = nextDone(app)
    engine.finish()
    await done
    await assert.rejects(app.api.editReply(second.userMessage.id, 'changed'), (err: AppError) => err.code === 'BAD_REQUEST')
    assert.deepEqual(show(await app.api.getConversation(id)), ['one 1/1', 'reply one 1/1', 'two 1/1', ' 1/1'])
  })
})

describe('Api#deleteMessage', () => {
  it('deletes the message and what follows, shows its parent, and undo brings the branch back', async () => {
    const { id } = await app.api.createConversation()
    await turn(id, 'one', 'reply one')
    const two = await turn(id, 'two', 'reply two')
    const before = await app.api.getConversation(id)
    const question = before.branch[2]!.message.id

    const { undoUntil } = await app.api.deleteMessage(question)
    assert.ok(undoUntil > Date.now())
    assert.deepEqual(show(await app.api.getConversation(id)), ['one 1/1', 'reply one 1/1'])
    assert.equal(named(events, 'conversationChanged').at(-1)?.conversationId, id)

    const restored = await app.api.undoDeleteMessage(question)
    assert.deepEqual(show(restored), show(before))
    assert.equal(restored.branch.at(-1)?.message.id, two)
    await assert.rejects(app.api.undoDeleteMessage(question), (err: AppError) => err.code === 'NOT_FOUND')
  })

  it('refuses to undo while the conversation generates, and undoes once it is done', async () => {
    const { id } = await app.api.createConversation()
    const first = await turn(id, 'one', 'reply one')
    await app.api.deleteMessage(first)
    await app.api.send(id, 'two')
    await assert.rejects(app.api.undoDeleteMessage(first), busy)
    await engine.started()
    const done = nextDone(app)
    engine.finish()
    await done
    const view = await app.api.undoDeleteMessage(first)
    assert.deepEqual(show(view), ['one 1/1', 'reply one 1/2'], 'beside the message sent since')
  })
})
