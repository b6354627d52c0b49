// Tools in a chat, end to end in main: a scripted model calls the tools of a real stdio MCP
// server (tests/mcp/test-server.ts); each call waits for the user's answer, runs, and its result
// goes back to the model, which replies again: approved, denied, always allowed, timed out,
// cancelled, stopped, crashed, unknown, and cut to fit.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Events } from '../../../src-shared/api.ts'
import { AppError } from '../../../src-shared/errors.ts'
import type { Message, ToolCall } from '../../../src-shared/types.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { testServer } from '../../mcp/servers.ts'
import { nextDone } from './app-events.ts'
import { ScriptedEngine } from './scripted-engine.ts'

let root: string
let engine: ScriptedEngine
let app: App

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-tool-flow-'))
  await buildModel(path.join(root, 'models', 'tiny'), { layers: 1 })
})

after(async () => {
  await rm(root, { recursive: true, force: true })
})

beforeEach(async () => {
  engine = new ScriptedEngine()
  app = await createApp({ shell: 'browser', version: '0.0.0', dataDir: await mkdtemp(path.join(root, 'data-')), modelsDir: path.join(root, 'models'), engine })
  await app.api.setSettings({ mcpServers: { calc: testServer() } })
})

afterEach(() => app.close())

/** Resolves with the next tool message that `matches`, as a messageChanged event carries it. */
function nextTool(matches: (m: Message) => boolean): Promise<Message> {
  return new Promise((resolve) => {
    const off = app.events.subscribe((name, payload) => {
      const { message } = payload as Events['messageChanged']
      if (name !== 'messageChanged' || message.role !== 'tool' || !matches(message)) return
      off()
      resolve(message)
    })
  })
}

const waiting = (m: Message) => m.status === 'streaming' && m.tool?.state === 'approval'
const finished = (m: Message) => m.status !== 'streaming'
const call = (name: string, args: object, id = 'call_1'): ToolCall => ({ id, name, arguments: JSON.stringify(args) })

/** A chat with the calc server's tools, a question sent, and the model's first request running. */
async function ask(question = 'What is 2 + 3?'): Promise<string> {
  const { id } = await app.api.createConversation({ toolServers: ['calc'] })
  await app.api.send(id, question)
  await engine.started()
  return id
}

/** The model calls; resolves once the call waits for the user. */
async function modelCalls(...calls: ToolCall[]): Promise<Message> {
  const asked = nextTool(waiting)
  engine.token('Let me check.')
  engine.finishWithCalls(calls)
  return asked
}

/** The model's next request, once the results went back to it. */
async function nextRequest() {
  await engine.started()
  return engine.requests.at(-1)!
}

const code = (expected: string) => (err: unknown) => err instanceof AppError && err.code === expected

describe('Tools in a chat', () => {
  it('offers the chat’s tools, asks before a call, runs it once approved and gives the model the result', async () => {
    const id = await ask()
    const first = engine.requests[0]!
    assert.deepEqual(first.tools?.map((t) => t.name).sort(), ['add', 'crash', 'lookup', 'repeat', 'sleep'])
    assert.equal(first.toolChoice, 'auto')

    const asked = await modelCalls(call('add', { a: 2, b: 3 }))
    assert.deepEqual([asked.tool?.name, asked.tool?.server, asked.tool?.arguments], ['add', 'calc', '{"a":2,"b":3}'])
    const during = await app.api.getConversation(id)
    assert.equal(during.generatingMessageId, asked.id, 'the chat is busy while the call waits')
    await assert.rejects(app.api.send(id, 'another question'), code('ENGINE_BUSY'))

    const result = nextTool(finished)
    await app.api.answerToolCall(asked.id, 'once')
    const answered = await result
    assert.deepEqual([answered.status, answered.content, answered.tool?.state], ['complete', '5', 'done'])
    assert.ok((answered.tool?.durationMs ?? -1) >= 0)

    const second = await nextRequest()
    assert.deepEqual(second.messages.slice(-2), [
      { role: 'assistant', content: 'Let me check.', toolCalls: [call('add', { a: 2, b: 3 })] },
      { role: 'tool', content: '5', toolCallId: 'call_1' },
    ])
    engine.token('2 + 3 = 5.')
    const done = nextDone(app)
    engine.finish()
    await done
    const view = await app.api.getConversation(id)
    assert.deepEqual(view.branch.map((e) => [e.message.role, e.message.content]), [
      ['user', 'What is 2 + 3?'],
      ['assistant', 'Let me check.'],
      ['tool', '5'],
      ['assistant', '2 + 3 = 5.'],
    ])
    assert.deepEqual(view.branch[1]?.message.toolCalls, [call('add', { a: 2, b: 3 })])
    assert.equal(view.generatingMessageId, null)
    // Asked once only: the next call of the same tool asks again.
    assert.deepEqual((await app.api.getSettings()).alwaysAllowedTools, [])
  })

  it('tells the model a denied call was denied, and runs nothing', async () => {
    await ask()
    const asked = await modelCalls(call('crash', {}))
    const result = nextTool(finished)
    await app.api.answerToolCall(asked.id, 'deny')
    const denied = await result
    assert.deepEqual([denied.status, denied.error], ['error', 'You denied this call.'])
    const second = await nextRequest()
    assert.deepEqual(second.messages.at(-1), { role: 'tool', content: 'Error: You denied this call.', toolCallId: 'call_1' })
    // The server was never asked to crash: it still answers.
    assert.equal((await app.api.listToolServers())[0]?.state, 'ready')
    engine.finish()
  })

  it('remembers "always" for that tool, whose later calls run without asking', async () => {
    await ask()
    const asked = await modelCalls(call('lookup', { key: 'japan' }))
    await app.api.answerToolCall(asked.id, 'always')
    await nextRequest()
    assert.deepEqual((await app.api.getSettings()).alwaysAllowedTools, ['calc/lookup'])
    const ran = nextTool((m) => m.status !== 'streaming')
    engine.finishWithCalls([call('lookup', { key: 'kenya' }, 'call_2')])
    const second = await ran
    assert.deepEqual([second.content, second.tool?.callId], ['Nairobi', 'call_2'])
    await nextRequest()
    engine.finish()
  })

  it('ends a call past the timeout in Settings and tells the model so', async () => {
    await app.api.setSettings({ toolTimeoutSeconds: 1 })
    await ask()
    const asked = await modelCalls(call('sleep', { ms: 30_000 }))
    const result = nextTool(finished)
    await app.api.answerToolCall(asked.id, 'once')
    const timedOut = await result
    assert.equal(timedOut.status, 'error')
    assert.match(timedOut.error ?? '', /"sleep" did not answer within 1 seconds/)
    assert.match((await nextRequest()).messages.at(-1)?.content ?? '', /^Error: .*did not answer/)
    engine.finish()
  })

  it('cancels a running call at the user’s word, and the model reads that it was cancelled', async () => {
    await ask()
    const asked = await modelCalls(call('sleep', { ms: 30_000 }))
    const running = nextTool((m) => m.tool?.state === 'running')
    await app.api.answerToolCall(asked.id, 'once')
    await running
    const result = nextTool(finished)
    await app.api.cancelToolCall(asked.id)
    assert.equal((await result).status, 'interrupted')
    assert.equal((await nextRequest()).messages.at(-1)?.content, 'The call was cancelled before it returned a result.')
    engine.finish()
  })

  it('stops the whole turn from a call waiting for approval: no further reply, and the chat is free', async () => {
    const id = await ask()
    const asked = await modelCalls(call('add', { a: 1, b: 1 }))
    await app.api.stop(id)
    const view = await app.api.getConversation(id)
    assert.equal(view.generatingMessageId, null)
    assert.deepEqual(view.branch.map((e) => [e.message.role, e.message.status]), [
      ['user', 'complete'],
      ['assistant', 'complete'],
      ['tool', 'interrupted'],
    ])
    assert.equal(engine.requests.length, 1)
    await assert.rejects(app.api.answerToolCall(asked.id, 'once'), code('CONFLICT'))
    await app.api.send(id, 'next question')
    await engine.started()
    engine.finish()
  })

  it('answers every call of a reply in order, and a tool nobody has without asking', async () => {
    await ask()
    const asked = await modelCalls(call('teleport', { to: 'mars' }, 'a'), call('add', { a: 20, b: 22 }, 'b'))
    assert.equal(asked.tool?.callId, 'b', 'the unknown tool was answered first, without asking')
    await app.api.answerToolCall(asked.id, 'once')
    const second = await nextRequest()
    assert.deepEqual(second.messages.slice(-2), [
      { role: 'tool', content: 'Error: There is no tool named "teleport" in this chat.', toolCallId: 'a' },
      { role: 'tool', content: '42', toolCallId: 'b' },
    ])
    engine.finish()
  })

  it('keeps a server crash as the call’s error with what it said, and the turn goes on', async () => {
    await ask()
    const asked = await modelCalls(call('crash', {}))
    const result = nextTool(finished)
    await app.api.answerToolCall(asked.id, 'once')
    const crashed = await result
    assert.equal(crashed.status, 'error')
    assert.match(crashed.error ?? '', /"crash" of "calc" failed/)
    await nextRequest()
    engine.finish()
    const servers = await app.api.listToolServers()
    assert.equal(servers[0]?.state, 'failed')
    assert.match(servers[0]?.error ?? '', /crashing as asked/)
  })

  it('cuts a result too large for the context to a quarter of it, and says so', async () => {
    await ask()
    const asked = await modelCalls(call('repeat', { text: 'abcd', times: 5000 }))
    const result = nextTool(finished)
    await app.api.answerToolCall(asked.id, 'once')
    const cut = await result
    assert.equal(cut.tool?.truncatedFrom, 20_000)
    // The scripted engine counts four characters a token: a 2,048-token context leaves 512 for it.
    assert.ok(cut.content.length < 512 * 4 + 200, `kept ${cut.content.length} characters`)
    assert.match(cut.content, /\[The result was cut to fit the model's context: [\d,]+ of 20,000 characters are shown\.\]$/)
    await nextRequest()
    engine.finish()
  })

  it('offers no tools to a chat without servers, and says when a chat’s server is not running', async () => {
    const plain = await app.api.createConversation()
    await app.api.send(plain.id, 'hi')
    await engine.started()
    assert.equal(engine.requests[0]?.tools, undefined)
    const done = nextDone(app)
    engine.finish()
    await done

    await app.api.setSettings({ mcpServers: { calc: testServer(), broken: testServer('--fail-start') } })
    const notices: string[] = []
    app.events.subscribe((name, payload) => name === 'notice' && notices.push((payload as Events['notice']).message))
    const { id } = await app.api.createConversation({ toolServers: ['calc', 'broken'] })
    await app.api.send(id, 'hi')
    await engine.started()
    assert.ok(engine.requests[1]?.tools?.some((t) => t.name === 'add'))
    assert.match(notices.join('\n'), /The tools of "broken" \(.*no configuration given.*\) are not available/s)
    engine.finish()
  })
})
