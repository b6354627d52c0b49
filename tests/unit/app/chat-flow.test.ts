// The chat service's bookkeeping with a real store and a scripted engine: the races (stop while
// queued, two sends at once), and what is stored when the engine fails in each way.

import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Events } from '../../../src-shared/api.ts'
import { AppError } from '../../../src-shared/errors.ts'
import { DEFAULT_PARAMS, DEFAULT_SETTINGS } from '../../../src-shared/types.ts'
import { appBackend } from '../../../src-main/app/app-backend.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { EventHub } from '../../../src-main/app/events.ts'
import { ModelService } from '../../../src-main/app/model-service.ts'
import { createModelLibrary } from '../../../src-main/models/library.ts'
import { remoteModelId } from '../../../src-main/remote/remote-providers.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { named, nextDone } from './app-events.ts'
import { ScriptedEngine } from './scripted-engine.ts'

let root: string
let engine: ScriptedEngine
let app: App
let dataDir: string
let events: { name: keyof Events; payload: unknown }[]
/** The app's monotonic clock, in ms: moved by the tests that time a wait. */
let clock: number

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-chat-flow-'))
  await buildModel(path.join(root, 'models', 'tiny'), { layers: 1 })
  // A sampling recipe of its own, as generation_config.json states one.
  const config = path.join(root, 'models', 'tiny', 'generation_config.json')
  await writeFile(config, JSON.stringify({ ...JSON.parse(await readFile(config, 'utf8')), top_k: 20, repetition_penalty: 1.3 }))
})

after(async () => {
  await rm(root, { recursive: true, force: true })
})

beforeEach(async () => {
  engine = new ScriptedEngine()
  dataDir = await mkdtemp(path.join(root, 'data-'))
  clock = 0
  app = await createApp({ shell: 'browser', version: '0.0.0', dataDir, modelsDir: path.join(root, 'models'), engine, clock: () => clock })
  events = []
  app.events.subscribe((name, payload) => events.push({ name, payload }))
})

afterEach(() => app.close())

describe('ChatService with a scripted engine', () => {
  it('uses the only model there is, and streams tokens into the reply and out as events', async () => {
    const { id } = await app.api.createConversation()
    const turn = await app.api.send(id, 'Hello there\nsecond line')
    assert.equal(turn.reply.status, 'streaming')
    await engine.started()
    assert.equal(path.basename(engine.loads[0]?.dir ?? ''), 'tiny')
    engine.token('Hi')
    engine.token(' you')
    const done = nextDone(app)
    engine.finish()
    const { message } = await done
    assert.equal(message.content, 'Hi you')
    assert.equal(message.status, 'complete')
    assert.deepEqual(named(events, 'token').map((t) => t.text), ['Hi', ' you'])
    const view = await app.api.getConversation(id)
    assert.equal(view.conversation.title, 'Hello there')
    assert.deepEqual(view.branch.map((e) => e.message.content), ['Hello there\nsecond line', 'Hi you'])
    assert.equal(view.generatingMessageId, null)
    assert.deepEqual(view.context, { usedTokens: 16, contextLength: 2048 })
  })

  it("reads an opened chat's KV cache ahead when it runs on the loaded model, and never otherwise", async () => {
    const { id } = await app.api.createConversation()
    await app.api.getConversation(id)
    assert.deepEqual(engine.warmed, [], 'no model loaded: nothing to read the cache for')
    await app.api.send(id, 'Hello')
    await engine.started()
    await app.api.getConversation(id)
    assert.deepEqual(engine.warmed, [], 'its reply is being written: the cache is in use')
    const done = nextDone(app)
    engine.finish()
    await done
    await app.api.getConversation(id)
    assert.deepEqual(engine.warmed, [id])
    const other = await app.api.createConversation({ modelId: 'another-model' })
    await app.api.getConversation(other.id)
    assert.deepEqual(engine.warmed, [id], 'another model: its cache would not be this one')
  })

  it('refuses a second send in the same chat while a reply is written', async () => {
    const { id } = await app.api.createConversation()
    await app.api.send(id, 'one')
    await assert.rejects(app.api.send(id, 'two'), (err: AppError) => err.code === 'ENGINE_BUSY')
    await engine.started()
    const done = nextDone(app)
    engine.finish()
    await done
    const view = await app.api.getConversation(id)
    assert.deepEqual(view.branch.map((e) => e.message.content), ['one', ''])
  })

  it('queues chats behind each other, and a stopped queued reply never reaches the engine', async () => {
    const a = await app.api.createConversation()
    const b = await app.api.createConversation()
    await app.api.send(a.id, 'first')
    const queued = await app.api.send(b.id, 'second')
    await engine.started()
    await app.api.stop(b.id)
    assert.equal((await app.api.getConversation(b.id)).branch.at(-1)?.message.status, 'interrupted')
    const done = nextDone(app)
    engine.finish()
    await done
    assert.equal(engine.requests.length, 1)
    assert.equal(engine.cancels, 0)
    assert.equal(named(events, 'done').find((d) => d.messageId === queued.reply.id)?.message.status, 'interrupted')
  })

  it('tells a reply queued behind another chat whose reply it waits for, and times the wait apart from the first token', async () => {
    const a = await app.api.createConversation()
    const b = await app.api.createConversation()
    const first = await app.api.send(a.id, 'Write a poem')
    await engine.started()
    clock = 1_000
    const second = await app.api.send(b.id, 'And a limerick')
    assert.deepEqual((await app.api.getConversation(b.id)).replyState, {
      conversationId: b.id,
      messageId: second.reply.id,
      state: 'queued',
      waitingFor: 'Write a poem',
    })
    engine.token('Roses')
    clock = 41_000
    const firstDone = nextDone(app)
    engine.finish()
    await firstDone
    await engine.started()
    assert.equal(engine.requests.length, 2)
    clock = 41_500
    engine.token('There')
    const done = nextDone(app)
    engine.finish()
    const { stats } = await done
    assert.equal(stats?.queueMs, 40_000, 'from its send to the engine taking it')
    assert.equal(stats?.ttftMs, 1, "the engine's own time to first token is kept")
    const states = (messageId: string) => named(events, 'replyState').filter((e) => e.messageId === messageId).map((e) => (e.waitingFor ? `${e.state}: ${e.waitingFor}` : e.state))
    assert.deepEqual(states(first.reply.id), ['queued', 'loading', 'prefilling', 'generating'])
    // Freed for a moment between the two replies, the engine is waited for as nobody's.
    assert.deepEqual(states(second.reply.id), ['queued: Write a poem', 'queued', 'prefilling', 'generating'])
    const view = await app.api.getConversation(a.id)
    assert.equal(view.replyState, null)
    assert.equal(view.branch.at(-1)?.message.stats?.queueMs, 0, 'the first chat took the engine at once')
  })

  it('tells every reply still queued whose reply it waits for as the queue moves', async () => {
    const [a, b, c] = [await app.api.createConversation(), await app.api.createConversation(), await app.api.createConversation()]
    await app.api.send(a.id, 'Alpha')
    await engine.started()
    await app.api.send(b.id, 'Bravo')
    const third = await app.api.send(c.id, 'Charlie')
    assert.equal((await app.api.getConversation(c.id)).replyState?.waitingFor, 'Alpha')
    engine.finish()
    await engine.started()
    assert.equal((await app.api.getConversation(c.id)).replyState?.waitingFor, 'Bravo')
    assert.equal(named(events, 'replyState').filter((e) => e.messageId === third.reply.id).at(-1)?.waitingFor, 'Bravo')
    engine.finish()
    await engine.started()
    engine.finish()
  })

  it('stop cancels the running generation in the engine and keeps the text', async () => {
    const { id } = await app.api.createConversation()
    await app.api.send(id, 'tell me a story')
    await engine.started()
    engine.token('Once upon')
    await app.api.stop(id)
    assert.equal(engine.cancels, 1)
    const reply = (await app.api.getConversation(id)).branch.at(-1)?.message
    assert.equal(reply?.status, 'interrupted')
    assert.equal(reply?.content, 'Once upon')
  })

  it('keeps the text of a reply whose engine crashed, tells the user, and reloads next time', async () => {
    const { id } = await app.api.createConversation()
    await app.api.send(id, 'hi')
    await engine.started()
    engine.token('partial')
    const done = nextDone(app)
    engine.fail(new AppError('ENGINE_CRASHED', 'The engine process exited (signal SIGKILL)'))
    const { message } = await done
    assert.equal(message.status, 'error')
    assert.equal(message.content, 'partial')
    assert.match(message.error ?? '', /SIGKILL/)
    assert.equal(named(events, 'generationError')[0]?.error.code, 'ENGINE_CRASHED')
    assert.match(named(events, 'notice')[0]?.message ?? '', /next message restarts the engine/)
    assert.equal((await app.api.modelStatus()).state, 'error')

    await app.api.send(id, 'again')
    await engine.started()
    assert.equal(engine.loads.length, 2, 'the model was not loaded again after the crash')
    engine.finish()
  })

  it('stores a context overflow as an error with the engine’s words', async () => {
    const { id } = await app.api.createConversation()
    await app.api.send(id, 'hi')
    await engine.started()
    const done = nextDone(app)
    engine.fail(new AppError('CONTEXT_OVERFLOW', 'The conversation is longer than the model’s context.'))
    const { message } = await done
    assert.equal(message.status, 'error')
    assert.equal(message.error, 'The conversation is longer than the model’s context.')
  })

  it("keeps an overflowing prompt's size, so the context shows the prompt that did not fit and not the last reply that did", async () => {
    engine.contextLength = 256
    const { id } = await app.api.createConversation()
    await app.api.send(id, 'hi')
    await engine.started()
    let done = nextDone(app)
    engine.finish()
    await done
    assert.deepEqual((await app.api.getConversation(id)).context, { usedTokens: 10, contextLength: 256 })
    await app.api.send(id, 'a long question')
    await engine.started()
    done = nextDone(app)
    engine.fail(new AppError('CONTEXT_OVERFLOW', 'The conversation is 531 tokens …', { promptTokens: 531, contextLength: 256 }))
    const { message } = await done
    assert.equal(message.status, 'error')
    assert.equal(message.stats?.stopReason, 'error')
    assert.equal(message.stats?.generatedTokens, 0)
    assert.deepEqual((await app.api.getConversation(id)).context, { usedTokens: 531, contextLength: 256 })
  })

  it('asks the engine for the system prompt first and the merged parameters', async () => {
    await app.api.setSettings({ defaultParams: { ...(await app.api.getSettings()).defaultParams, topK: 7 } })
    const { id } = await app.api.createConversation({ systemPrompt: 'Be terse.', params: { temperature: 0 } })
    await app.api.send(id, 'q')
    await engine.started()
    const request = engine.requests[0]
    assert.deepEqual(request?.messages, [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'q' }])
    // Only what the user set: the engine settles the rest from the model ([TAG_PARAM_PRECEDENCE]).
    assert.deepEqual(request?.params, { topK: 7, temperature: 0 })
    assert.equal(request?.continueLast, false)
    engine.finish()
  })

  it("tells the panel what blank parameters inherit: the user's defaults over the model's generation_config.json over neutral ones", async () => {
    await app.api.setSettings({ defaultParams: { topK: 7 } })
    const { id } = await app.api.createConversation({ params: { temperature: 0.5 } })
    const view = await app.api.getConversation(id)
    assert.deepEqual(view.inheritedParams, { ...DEFAULT_PARAMS, temperature: 0.5, topK: 7, repetitionPenalty: 1.3 })
  })

  it('continues an interrupted reply from its text, under the same id', async () => {
    const { id } = await app.api.createConversation()
    const { reply } = await app.api.send(id, 'count')
    await engine.started()
    engine.token('1 2')
    await app.api.stop(id)
    const again = await app.api.continueReply(reply.id)
    assert.equal(again.id, reply.id)
    await engine.started()
    assert.deepEqual(engine.requests[1]?.messages.at(-1), { role: 'assistant', content: '1 2' })
    assert.equal(engine.requests[1]?.continueLast, true)
    engine.token(' 3')
    const done = nextDone(app)
    engine.finish()
    const { message } = await done
    assert.equal(message.content, '1 2 3')
    // One reply's stats: the tokens of both runs, the stop reason of the last.
    assert.equal(message.stats?.generatedTokens, '1 2'.length + ' 3'.length)
    assert.equal(message.stats?.stopReason, 'eos')
    assert.equal((await app.api.getConversation(id)).canContinue, true)
  })

  it('refuses to continue a reply with a remote provider’s model, and says so in the view', async () => {
    const server = http.createServer((_req, res) => res.end(JSON.stringify({ object: 'list', data: [{ id: 'big', object: 'model' }] })))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const provider = await app.api.addRemoteProvider({ name: 'Far', baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` })
      const { id } = await app.api.createConversation()
      const { reply } = await app.api.send(id, 'count')
      await engine.started()
      engine.token('1 2')
      await app.api.stop(id)
      await app.api.updateConversation(id, { modelId: remoteModelId(provider.id, 'big') })
      const before = await app.api.getConversation(id)
      assert.equal(before.canContinue, false)
      await assert.rejects(app.api.continueReply(reply.id), (err: AppError) => err.code === 'MODEL_UNSUPPORTED')
      assert.deepEqual((await app.api.getConversation(id)).branch.at(-1)?.message, before.branch.at(-1)?.message)
    } finally {
      server.close()
    }
  })

  it('notices an engine crash while idle: the model is loaded again for the next reply', async () => {
    const { id } = await app.api.createConversation()
    await app.api.send(id, 'one')
    await engine.started()
    let done = nextDone(app)
    engine.finish()
    await done
    engine.crash()
    assert.equal((await app.api.modelStatus()).state, 'error')
    await app.api.send(id, 'two')
    await engine.started()
    assert.equal(engine.loads.length, 2)
    done = nextDone(app)
    engine.finish()
    assert.equal((await done).message.status, 'complete')
  })

  it('loads the model with the KV budget from Settings and the snapshot folder and budget', async () => {
    await app.api.setSettings({ kvCacheBudgetBytes: 64 * 2 ** 20 })
    const { id } = await app.api.createConversation()
    await app.api.send(id, 'hi')
    await engine.started()
    const options = engine.loads[0]?.options
    assert.equal(options?.kvBudgetBytes, 64 * 2 ** 20)
    assert.equal(options?.snapshotDir, path.join(dataDir, 'kv-cache'))
    assert.equal(options?.snapshotBudgetBytes, 2 * 2 ** 30)
    engine.finish()
  })

  it('tells the user when older turns were dropped to fit the context', async () => {
    const { id } = await app.api.createConversation()
    await app.api.send(id, 'hi')
    await engine.started()
    const done = nextDone(app)
    engine.finish('eos', [0, 1])
    assert.deepEqual((await done).stats?.droppedMessages, [0, 1])
    assert.match(named(events, 'notice')[0]?.message ?? '', /^2 earlier messages did not fit the model's context/)
  })

  it("names the dropped turns by their messages' ids, past the system prompt and replies that said nothing", async () => {
    const { id } = await app.api.createConversation({ systemPrompt: 'Be terse.' })
    const turns = []
    for (const text of ['one', 'two', 'three']) {
      const turn = await app.api.send(id, text)
      await engine.started()
      engine.token(`re ${text}`)
      const done = nextDone(app)
      engine.finish()
      await done
      turns.push(turn)
    }
    // A reply stopped before its first token is not in the prompt: the indices skip it.
    const stopped = await app.api.regenerate(turns[2]!.reply.id)
    await engine.started()
    await app.api.stop(id)
    const last = await app.api.regenerate(stopped.id)
    await engine.started()
    // The request: system, one, re one, two, re two, three.
    assert.equal(engine.requests.at(-1)?.messages.length, 6)
    const done = nextDone(app)
    engine.finish('eos', [1, 2, 3, 4])
    const { stats } = await done
    assert.equal(last.parentId, turns[2]!.userMessage.id)
    assert.deepEqual(stats?.droppedMessageIds, [turns[0]!.userMessage.id, turns[0]!.reply.id, turns[1]!.userMessage.id, turns[1]!.reply.id])
  })

  it('refuses to load another model while a reply is written', async () => {
    const { id } = await app.api.createConversation()
    await app.api.send(id, 'hi')
    await assert.rejects(app.api.loadModel('tiny'), (err: AppError) => err.code === 'ENGINE_BUSY')
    await engine.started()
    engine.finish()
  })

  it('tells a user without a chosen model which to pick when there are several', async () => {
    await buildModel(path.join(root, 'models', 'tiny-2'), { layers: 1, seed: 7 })
    try {
      const { id } = await app.api.createConversation()
      await assert.rejects(app.api.send(id, 'hi'), (err: AppError) => err.code === 'MODEL_NOT_LOADED' && /Pick one/.test(err.message))
      assert.deepEqual((await app.api.getConversation(id)).branch, [], 'a message was stored although it could not be answered')
    } finally {
      await rm(path.join(root, 'models', 'tiny-2'), { recursive: true, force: true })
    }
  })
})

describe('The API server backend with a scripted engine', () => {
  it('notices an engine crash under its request: the model is loaded again for the next one', async () => {
    const models = new ModelService({
      library: createModelLibrary({ modelsDir: path.join(root, 'models') }),
      engine,
      events: new EventHub(),
      settings: () => DEFAULT_SETTINGS,
      snapshotDir: path.join(dataDir, 'kv-cache'),
      snapshotBudgetBytes: 1,
    })
    const backend = appBackend({ library: createModelLibrary({ modelsDir: path.join(root, 'models') }), models, engine, settings: () => DEFAULT_SETTINGS })
    const ask = () => backend.generate('tiny', [{ role: 'user', content: 'hi' }], DEFAULT_SETTINGS.defaultParams, () => undefined, new AbortController().signal)
    try {
      const first = ask()
      await engine.started()
      engine.crash()
      await assert.rejects(first, (err: AppError) => err.code === 'ENGINE_CRASHED')
      assert.equal(models.status().state, 'error')
      const second = ask()
      await engine.started()
      assert.equal(engine.loads.length, 2, 'the model was not loaded again after the crash')
      engine.finish()
      assert.equal((await second).stats.stopReason, 'eos')
    } finally {
      models.dispose()
    }
  })
})
