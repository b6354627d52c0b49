// EngineHost against a fake engine process the test drives: a stop while the model is loaded
// again after a crash, crash listeners, and close with an engine that never answers.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AppError } from '../../../src-shared/errors.ts'
import type { LoadedModelInfo } from '../../../src-shared/types.ts'
import { EngineHost } from '../../../src-main/engine-host/engine-host.ts'
import type { EngineProcess } from '../../../src-main/engine-host/spawner.ts'
import type { EngineMessage, GenerateResult, HostMessage } from '../../../src-main/model-format/protocol.ts'
import { CHAT, GREEDY } from '../engine/fixtures.ts'

const INFO: LoadedModelInfo = {
  modelId: 'tiny', variant: 'fp32', provider: 'cpu', providerAttempts: [{ provider: 'cpu', ok: true }],
  contextLength: 2048, kvDtype: 'float32', multiTokenPass: true, threads: 1, kvUpdate: 'split', kvUpdateNotes: [], fusions: [], int8Activations: false, speculation: { available: true, draftModelId: null },
}

const DONE: GenerateResult = {
  text: 'all of it',
  tokens: [1, 2, 3],
  stats: { promptTokens: 5, reusedTokens: 0, prefillMs: 1, prefillTokensPerSecond: 1, ttftMs: 1, decodeTokensPerSecond: 1, generatedTokens: 3, stopReason: 'length', provider: 'cpu' },
}

/**
 * An engine process in the test's hands. Loads and unloads are answered when `answering`;
 * a generate is answered at once in full, as an engine that never read a cancel would.
 */
class FakeProcess implements EngineProcess {
  readonly pid = 1
  readonly received: HostMessage[] = []
  answering = true
  #onMessage: (message: EngineMessage) => void = () => undefined
  #onExit: ((code: number | null, signal: string | null) => void)[] = []

  send(message: HostMessage): void {
    this.received.push(message)
    if (message.type === 'generate') this.reply({ type: 'done', id: message.id, result: DONE })
    else if (this.answering && message.type !== 'cancel') this.answer(message)
  }

  onMessage(handler: (message: EngineMessage) => void): void {
    this.#onMessage = handler
  }

  onExit(handler: (code: number | null, signal: string | null) => void): void {
    this.#onExit.push(handler)
  }

  kill(): void {
    queueMicrotask(() => this.exit(null, 'SIGKILL'))
  }

  exit(code: number | null, signal: string | null): void {
    for (const handler of this.#onExit.splice(0)) handler(code, signal)
  }

  /** Answers a load or unload this process received. */
  answer(message: HostMessage): void {
    this.reply({ type: 'done', id: message.id, result: message.type === 'load' ? INFO : null })
  }

  reply(message: EngineMessage): void {
    queueMicrotask(() => this.#onMessage(message))
  }
}

function fakeHost(closeTimeoutMs = 10_000): { host: EngineHost; processes: FakeProcess[] } {
  const processes: FakeProcess[] = []
  const host = new EngineHost({
    spawn: () => {
      const p = new FakeProcess()
      processes.push(p)
      return p
    },
    closeTimeoutMs,
  })
  return { host, processes }
}

describe('EngineHost after a crash', () => {
  it('ends a reply stopped while the model is loaded again, without sending it to the engine', async () => {
    const { host, processes } = fakeHost()
    await host.load('/models/tiny', { providers: ['cpu'] })
    processes[0]!.exit(null, 'SIGKILL')

    const reply = host.generate({ conversationId: 'c', messages: CHAT, params: GREEDY }, () => undefined)
    const fresh = processes[1]!
    fresh.answering = false
    const load = fresh.received.find((m) => m.type === 'load')
    assert.ok(load, 'the fresh engine was not given the model again')
    host.cancel('other')
    host.cancel('c')
    fresh.answer(load)

    const result = await reply
    assert.equal(result.stats.stopReason, 'cancelled')
    assert.equal(result.text, '')
    assert.equal(result.stats.provider, 'cpu')
    assert.deepEqual(fresh.received.map((m) => m.type), ['load'])
  })

  it('sends a reply a cancel for another conversation does not name', async () => {
    const { host, processes } = fakeHost()
    await host.load('/models/tiny', { providers: ['cpu'] })
    processes[0]!.exit(1, null)
    const reply = host.generate({ conversationId: 'c', messages: CHAT, params: GREEDY }, () => undefined)
    host.cancel('other')
    assert.equal((await reply).stats.stopReason, 'length')
  })

  it('tells crash listeners of a crash while idle, once, and not of its own close', async () => {
    const { host, processes } = fakeHost()
    const crashes: AppError[] = []
    host.onCrash((error) => crashes.push(error))
    await host.load('/models/tiny', { providers: ['cpu'] })
    processes[0]!.exit(null, 'SIGSEGV')
    assert.equal(crashes.length, 1)
    assert.equal(crashes[0]?.code, 'ENGINE_CRASHED')
    assert.match(crashes[0]?.message ?? '', /SIGSEGV/)

    await host.load('/models/tiny', { providers: ['cpu'] })
    await host.close()
    assert.equal(crashes.length, 1)
  })

  it('closes an engine that answers nothing, failing the reply it owed', async () => {
    const { host, processes } = fakeHost(0)
    await host.load('/models/tiny', { providers: ['cpu'] })
    const stuck = processes[0]!
    stuck.answering = false
    // An engine stuck in a forward pass: the generate arrives and is never answered.
    let sent = (): void => undefined
    const generating = new Promise<void>((resolve) => (sent = resolve))
    stuck.send = (message) => {
      stuck.received.push(message)
      if (message.type === 'generate') sent()
    }
    const reply = host.generate({ conversationId: 'c', messages: CHAT, params: GREEDY }, () => undefined)
    await generating
    await host.close()
    await assert.rejects(reply, { code: 'ENGINE_CRASHED', message: /Hearth closed/ })
    assert.equal(host.pid, undefined)
  })
})
