// The chat service end to end: a real tiny model in a real engine process, a real store in a
// temp dir, driven through the Api as the renderer drives it.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Events } from '../../../src-shared/api.ts'
import type { AppError } from '../../../src-shared/errors.ts'
import type { Conversation } from '../../../src-shared/types.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { hostEngine } from '../../../src-main/app/engine-port.ts'
import { EngineHost } from '../../../src-main/engine-host/engine-host.ts'
import { openStore } from '../../../src-main/store/store.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'

let root: string
let dataDir: string
let host: EngineHost
let app: App

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-chat-engine-'))
  dataDir = path.join(root, 'data')
  // One layer: thousands of tokens a second, and greedy decoding never meets eos in 2,000 tokens.
  await buildModel(path.join(root, 'models', 'tiny'), { layers: 1 })
  host = new EngineHost()
  app = await createApp({ shell: 'browser', version: '0.0.0', dataDir, modelsDir: path.join(root, 'models'), engine: hostEngine(host) })
  await app.api.setSettings({ threads: 1, defaultModelId: 'tiny' })
})

after(async () => {
  await app.close()
  await rm(root, { recursive: true, force: true })
})

/** A greedy chat, so replies repeat exactly. */
function greedyChat(maxTokens: number): Promise<Conversation> {
  return app.api.createConversation({ params: { temperature: 0, maxTokens } })
}

/** Collects the reply's events until its `done`. */
function collect(messageId: () => string): Promise<{ tokens: string[]; done: Events['done']; errors: Events['generationError'][] }> {
  const tokens: string[] = []
  const errors: Events['generationError'][] = []
  return new Promise((resolve) => {
    const off = app.events.subscribe((name, payload) => {
      if (name === 'token' && (payload as Events['token']).messageId === messageId()) tokens.push((payload as Events['token']).text)
      if (name === 'generationError') errors.push(payload as Events['generationError'])
      if (name === 'done' && (payload as Events['done']).messageId === messageId()) {
        off()
        resolve({ tokens, done: payload as Events['done'], errors })
      }
    })
  })
}

/** Resolves at the reply's first token. */
function firstToken(): Promise<Events['token']> {
  return new Promise((resolve) => {
    const off = app.events.subscribe((name, payload) => {
      if (name !== 'token') return
      off()
      resolve(payload as Events['token'])
    })
  })
}

describe('ChatService with the tiny model', () => {
  it('streams the reply as tokens and stores exactly what was streamed, with stats', async () => {
    const { id } = await greedyChat(12)
    let replyId = ''
    const events = collect(() => replyId)
    const turn = await app.api.send(id, 'Hello there')
    replyId = turn.reply.id
    const { tokens, done } = await events
    assert.ok(tokens.length > 0)
    assert.equal(done.message.content, tokens.join(''))
    assert.equal(done.message.status, 'complete')
    assert.equal(done.stats?.generatedTokens, 12)
    assert.equal(done.stats?.stopReason, 'length')
    assert.equal(done.stats?.provider, 'cpu')
    assert.equal(done.message.modelId, 'tiny')
    const status = await app.api.modelStatus()
    assert.equal(status.state, 'loaded')
    assert.equal(status.info?.provider, 'cpu')
    // 'auto' tries the GPU providers first; the picker shows why each was not used.
    for (const attempt of status.info?.providerAttempts ?? []) {
      if (!attempt.ok) assert.ok((attempt.reason ?? '').length > 0, `${attempt.provider} failed without a reason`)
    }

    // What the store holds, read by a second connection as a restarted app would.
    const store = openStore({ dataDir })
    try {
      const stored = store.messages.branch(id).map((e) => [e.message.role, e.message.content, e.message.status])
      assert.deepEqual(stored, [['user', 'Hello there', 'complete'], ['assistant', tokens.join(''), 'complete']])
    } finally {
      store.close()
    }
  })

  it('stop cancels the generation in the engine: fewer tokens than asked, the text kept', async () => {
    const { id } = await greedyChat(2000)
    const first = firstToken()
    const turn = await app.api.send(id, 'Tell me everything')
    await first
    await app.api.stop(id)
    const reply = (await app.api.getConversation(id)).branch.at(-1)?.message
    assert.equal(reply?.id, turn.reply.id)
    assert.equal(reply?.status, 'interrupted')
    assert.equal(reply?.stats?.stopReason, 'cancelled')
    assert.ok((reply?.stats?.generatedTokens ?? 0) < 2000, 'the engine ran to the token limit')
    assert.ok((reply?.content.length ?? 0) > 0)
    // The engine is free again: the next turn completes.
    let replyId = ''
    const events = collect(() => replyId)
    await app.api.updateConversation(id, { params: { temperature: 0, maxTokens: 4 } })
    replyId = (await app.api.send(id, 'Shorter, please')).reply.id
    assert.equal((await events).done.message.status, 'complete')
  })

  it('regenerate adds a sibling reply and makes it the active branch, greedy so the same text', async () => {
    const { id } = await greedyChat(6)
    let replyId = ''
    let events = collect(() => replyId)
    const turn = await app.api.send(id, 'Pick a word')
    replyId = turn.reply.id
    const first = (await events).done.message

    events = collect(() => replyId)
    const again = await app.api.regenerate(first.id)
    replyId = again.id
    const second = (await events).done.message
    assert.equal(second.parentId, turn.userMessage.id)
    assert.equal(second.content, first.content)
    // The conversation's cache held this prompt: the app named the conversation in the request.
    assert.ok((second.stats?.reusedTokens ?? 0) > 0, 'the prompt was prefilled again')

    const view = await app.api.getConversation(id)
    const last = view.branch.at(-1)
    assert.equal(last?.message.id, second.id)
    assert.deepEqual(last?.siblingIds, [first.id, second.id])
    assert.equal(last?.siblingIndex, 1)

    const back = await app.api.switchBranch(first.id)
    assert.equal(back.branch.at(-1)?.message.id, first.id)
    assert.equal(back.branch.at(-1)?.siblingIndex, 0)
  })

  it('editing a user message starts a new branch with its own reply; the old one stays', async () => {
    const { id } = await greedyChat(4)
    let replyId = ''
    let events = collect(() => replyId)
    const turn = await app.api.send(id, 'What is 2 + 2?')
    replyId = turn.reply.id
    await events

    events = collect(() => replyId)
    const edited = await app.api.editMessage(turn.userMessage.id, 'What is 3 + 3?')
    replyId = edited.reply.id
    assert.equal((await events).done.message.status, 'complete')

    const view = await app.api.getConversation(id)
    assert.deepEqual(view.branch.map((e) => e.message.content.slice(0, 14)), ['What is 3 + 3?', view.branch[1]?.message.content.slice(0, 14)])
    assert.deepEqual(view.branch[0]?.siblingIds, [turn.userMessage.id, edited.userMessage.id])
    const old = await app.api.switchBranch(turn.userMessage.id)
    assert.deepEqual(old.branch.map((e) => e.message.id), [turn.userMessage.id, turn.reply.id])
  })

  it('an engine killed mid-reply leaves the reply as an error with its text; the next message works', async () => {
    const { id } = await greedyChat(2000)
    let replyId = ''
    const events = collect(() => replyId)
    const first = firstToken()
    replyId = (await app.api.send(id, 'Go on and on')).reply.id
    await first
    const pid = host.pid
    assert.ok(pid !== undefined)
    process.kill(pid, 'SIGKILL')
    const { done, errors } = await events
    assert.equal(done.message.status, 'error')
    assert.ok(done.message.content.length > 0, 'the streamed text was lost')
    assert.match(done.message.error ?? '', /stopped unexpectedly/)
    assert.equal(errors[0]?.error.code, 'ENGINE_CRASHED')
    assert.equal((await app.api.modelStatus()).state, 'error')

    let nextId = ''
    const next = collect(() => nextId)
    await app.api.updateConversation(id, { params: { temperature: 0, maxTokens: 3 } })
    nextId = (await app.api.send(id, 'Still there?')).reply.id
    assert.equal((await next).done.message.status, 'complete')
    assert.notEqual(host.pid, pid)
    assert.equal((await app.api.modelStatus()).state, 'loaded')
  })

  it('continues a stopped reply from its text: the same reply as one never stopped, with both runs in its stats', async () => {
    const { id } = await greedyChat(2000)
    const first = firstToken()
    const { reply } = await app.api.send(id, 'Start something')
    await first
    await app.api.stop(id)
    const stopped = (await app.api.getConversation(id)).branch.at(-1)?.message
    assert.equal(stopped?.status, 'interrupted')
    const stoppedTokens = stopped.stats?.generatedTokens ?? 0

    await app.api.updateConversation(id, { params: { temperature: 0, maxTokens: 5 } })
    const continued = collect(() => reply.id)
    assert.equal((await app.api.continueReply(reply.id)).id, reply.id)
    const { done } = await continued
    assert.equal(done.message.status, 'complete')
    assert.ok(done.message.content.startsWith(stopped.content))
    assert.equal(done.stats?.generatedTokens, stoppedTokens + 5)
    assert.equal(done.stats?.stopReason, 'length')

    // Greedy decoding carried on from the text writes what an uninterrupted reply writes.
    const whole = await greedyChat(stoppedTokens + 5)
    let wholeId = ''
    const uninterrupted = collect(() => wholeId)
    wholeId = (await app.api.send(whole.id, 'Start something')).reply.id
    assert.equal((await uninterrupted).done.message.content, done.message.content)
    assert.equal((await app.api.getConversation(id)).branch.length, 2)
  })

  it('refuses a second message in the same chat while the first reply streams', async () => {
    const { id } = await greedyChat(2000)
    const first = firstToken()
    await app.api.send(id, 'one')
    await first
    await assert.rejects(app.api.send(id, 'two'), (err: AppError) => err.code === 'ENGINE_BUSY')
    await app.api.stop(id)
  })
})
