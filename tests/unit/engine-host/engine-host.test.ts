// EngineHost against a real engine process: streaming, cancel, crash recovery, bad input, and the
// host's event loop staying free while the engine computes.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { access } from 'node:fs/promises'
import path from 'node:path'
import type { AppError } from '../../../src-shared/errors.ts'
import { EngineHost } from '../../../src-main/engine-host/engine-host.ts'
import { forkSpawner, type Spawner } from '../../../src-main/engine-host/spawner.ts'
import { snapshotFile } from '../../../src-main/model-format/snapshot-name.ts'
import { CHAT, GREEDY, tempModels } from '../engine/fixtures.ts'

let models: Awaited<ReturnType<typeof tempModels>>
let tiny: string
const hosts: EngineHost[] = []

before(async () => {
  models = await tempModels('host')
  tiny = await models.build('tiny')
})
after(async () => {
  for (const host of hosts) await host.close()
  await models.remove()
})

function newHost(spawn?: Spawner): EngineHost {
  const host = new EngineHost(spawn ? { spawn } : {})
  hosts.push(host)
  return host
}

/** Counts the engine processes a host starts. */
function countingSpawner(): { spawn: Spawner; count: () => number } {
  const fork = forkSpawner()
  let n = 0
  return {
    spawn: () => {
      n++
      return fork()
    },
    count: () => n,
  }
}

const LOAD = { providers: ['cpu' as const], threads: 1 }

describe('EngineHost', () => {
  it('starts the engine on the first request and streams the reply it returns', async () => {
    const { spawn, count } = countingSpawner()
    const host = newHost(spawn)
    assert.equal(host.pid, undefined)
    assert.equal(count(), 0)
    const info = await host.load(tiny, LOAD)
    assert.equal(info.provider, 'cpu')
    assert.equal(info.multiTokenPass, true)
    let streamed = ''
    const result = await host.generate({ conversationId: 'c', messages: CHAT, params: GREEDY }, (t) => (streamed += t))
    assert.equal(streamed, result.text)
    assert.equal(result.stats.generatedTokens, GREEDY.maxTokens)
    const state = await host.info()
    assert.equal(state.model?.modelId, 'tiny')
    assert.deepEqual(state.caches.map((c) => c.conversationId), ['c'])
    assert.equal(count(), 1)
  })

  it("carries a long prefill's progress and token counts across the process boundary", async () => {
    const host = newHost()
    await host.load(tiny, { ...LOAD, prefillChunk: 8 })
    const reports: { done: number; total: number }[] = []
    const result = await host.generate({ conversationId: 'long', messages: CHAT, params: GREEDY }, () => {}, (r) => reports.push(r))
    assert.ok(reports.length >= 1)
    assert.deepEqual(reports[0], { done: 0, total: result.stats.promptTokens, tokensPerSecond: 0 })
    const [none, some] = await host.countTokens(['', 'The sea is wide and deep.'])
    assert.equal(none, 0)
    assert.ok(some! > 0)
  })

  it("reads a conversation's cache ahead across the process boundary, starting no engine for it", async () => {
    const { spawn, count } = countingSpawner()
    const host = newHost(spawn)
    assert.deepEqual(await host.warmCache('c'), { from: 'none', reason: 'no-model' })
    assert.equal(count(), 0)
    const snapshotDir = path.join(models.root, 'host-warm')
    await host.load(tiny, { ...LOAD, snapshotDir })
    const first = await host.generate({ conversationId: 'c', messages: CHAT, params: GREEDY }, () => {})
    assert.deepEqual(await host.warmCache('c'), { from: 'memory', tokens: first.stats.promptTokens + GREEDY.maxTokens - 1 })
    // Loading again persists the cache and starts from an empty pool: the read-ahead finds the snapshot.
    await host.load(tiny, { ...LOAD, snapshotDir })
    assert.deepEqual(await host.warmCache('c'), { from: 'snapshot', tokens: first.stats.promptTokens + GREEDY.maxTokens - 1 })
    assert.deepEqual(await host.warmCache('other'), { from: 'none', reason: 'no-snapshot' })
  })

  it('stops a generation on cancel, keeping the cache usable', async () => {
    const host = newHost()
    await host.load(tiny, LOAD)
    let tokens = 0
    const result = await host.generate(
      { conversationId: 'c', messages: CHAT, params: { ...GREEDY, maxTokens: 1500 } },
      () => {
        if (++tokens === 5) host.cancel('c')
      },
    )
    // Tokens already in the pipe when the cancel went out still arrive; the engine itself stops
    // within a step of reading it (Engine#generate's test pins that down without IPC timing).
    assert.equal(result.stats.stopReason, 'cancelled')
    assert.ok(result.stats.generatedTokens < 1500)
    const next = await host.generate({ conversationId: 'c', messages: CHAT, params: GREEDY }, () => {})
    assert.equal(next.stats.stopReason, 'length')
    assert.ok(next.stats.reusedTokens > 0)
  })

  it('reports a crash of the engine as ENGINE_CRASHED and starts a fresh one with the model', async () => {
    const { spawn, count } = countingSpawner()
    const host = newHost(spawn)
    await host.load(tiny, LOAD)
    const firstPid = host.pid as number
    let killed = false
    const running = host.generate({ messages: CHAT, params: { ...GREEDY, maxTokens: 1500 } }, () => {
      if (!killed) {
        killed = true
        process.kill(firstPid, 'SIGKILL')
      }
    })
    await assert.rejects(running, { code: 'ENGINE_CRASHED', message: /signal SIGKILL/ })
    assert.equal(host.pid, undefined)
    const again = await host.generate({ messages: CHAT, params: GREEDY }, () => {})
    assert.equal(again.stats.generatedTokens, GREEDY.maxTokens)
    assert.notEqual(host.pid, firstPid)
    assert.equal(count(), 2)
  })

  it('turns bad input into specific errors while the engine process carries on', async () => {
    const host = newHost()
    await host.load(tiny, LOAD)
    const pid = host.pid
    await assert.rejects(host.load(`${tiny}-does-not-exist`, LOAD), { code: 'MODEL_INVALID', message: /is not a folder/ })
    await assert.rejects(host.load(tiny, { ...LOAD, memoryLimitBytes: 1000 }), { code: 'MODEL_TOO_BIG' })
    await assert.rejects(host.generate({ messages: CHAT, params: GREEDY }, () => {}), { code: 'MODEL_NOT_LOADED' })
    const long = [{ role: 'user' as const, content: 'word '.repeat(3000) }]
    await host.load(tiny, LOAD)
    // The prompt's size crosses from the engine's process with the error, for the context meter.
    await assert.rejects(host.generate({ messages: long, params: GREEDY }, () => {}), (err: AppError) => {
      assert.equal(err.code, 'CONTEXT_OVERFLOW')
      assert.ok(err.overflow !== undefined && err.overflow.promptTokens > err.overflow.contextLength, JSON.stringify(err.overflow))
      return true
    })
    const ok = await host.generate({ messages: CHAT, params: GREEDY }, () => {})
    assert.equal(ok.stats.stopReason, 'length')
    assert.equal(host.pid, pid)
  })

  it('runs the model in its own process, and a cancel from a timer stops it mid-reply', async () => {
    const host = newHost()
    await host.load(tiny, LOAD)
    // Only the pid shows the process: an engine on this event loop that awaited between tokens
    // would also let the timer below fire.
    assert.ok(host.pid !== undefined && host.pid !== process.pid, `engine pid ${host.pid}`)
    // A cancel from a timer set at the first token ends the reply before its 1500 tokens.
    let timer: NodeJS.Timeout | undefined
    let fired = 0
    const result = await host.generate(
      { conversationId: 'c', messages: CHAT, params: { ...GREEDY, maxTokens: 1500 } },
      () => {
        timer ??= setTimeout(() => {
          fired++
          host.cancel('c')
        }, 0)
      },
    )
    assert.equal(fired, 1)
    assert.equal(result.stats.stopReason, 'cancelled')
    assert.ok(result.stats.generatedTokens < 1500)
  })

  it('writes each conversation\'s cache to its snapshot file on close', async () => {
    const host = newHost()
    const snapshotDir = path.join(models.root, 'snapshots')
    await host.load(tiny, { ...LOAD, snapshotDir })
    await host.generate({ conversationId: 'kept', messages: CHAT, params: GREEDY }, () => {})
    await assert.rejects(access(snapshotFile(snapshotDir, 'kept')), { code: 'ENOENT' })
    await host.close()
    await access(snapshotFile(snapshotDir, 'kept'))
  })

  it('ends the engine process on close', async () => {
    const host = newHost()
    await host.load(tiny, LOAD)
    const pid = host.pid as number
    await host.close()
    assert.equal(host.pid, undefined)
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' })
  })
})
