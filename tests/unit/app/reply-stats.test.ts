// The stats of a reply written in two runs: stopped, then continued.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { GenerationStats } from '../../../src-shared/types.ts'
import { continuedStats } from '../../../src-main/app/reply-stats.ts'

function run(over: Partial<GenerationStats>): GenerationStats {
  return {
    promptTokens: 100,
    reusedTokens: 0,
    prefillMs: 50,
    prefillTokensPerSecond: 2000,
    ttftMs: 60,
    decodeTokensPerSecond: 10,
    generatedTokens: 11,
    stopReason: 'cancelled',
    provider: 'cpu',
    ...over,
  }
}

describe('continuedStats', () => {
  it('counts every token, keeps the first run’s prompt and the last run’s stop reason', () => {
    const before = run({})
    const after = run({ promptTokens: 111, reusedTokens: 110, prefillMs: 1, ttftMs: 5, generatedTokens: 21, decodeTokensPerSecond: 20, stopReason: 'eos', droppedMessages: [0] })
    const stats = continuedStats(before, after)
    assert.equal(stats?.generatedTokens, 32)
    assert.equal(stats?.promptTokens, 100)
    assert.equal(stats?.reusedTokens, 0)
    assert.equal(stats?.ttftMs, 60)
    assert.equal(stats?.prefillMs, 50)
    assert.equal(stats?.stopReason, 'eos')
    assert.deepEqual(stats?.droppedMessages, [0])
    // 10 steps in 1 s, then 20 steps in 1 s.
    assert.equal(stats?.decodeTokensPerSecond, 15)
  })

  it('keeps the wait for the engine of the run that wrote the first token, and none when that run had none', () => {
    assert.equal(continuedStats(run({ queueMs: 40_000 }), run({ queueMs: 3 }))?.queueMs, 40_000)
    assert.equal(continuedStats(run({ generatedTokens: 0, queueMs: 40_000 }), run({ queueMs: 3 }))?.queueMs, 3)
    assert.equal(continuedStats(run({}), run({ queueMs: 3 }))?.queueMs, undefined, 'an older first run never measured it')
  })

  it('takes the prompt figures of the second run when the first wrote no token', () => {
    const stats = continuedStats(run({ generatedTokens: 0, decodeTokensPerSecond: 0, ttftMs: 0 }), run({ ttftMs: 7, promptTokens: 90, stopReason: 'length' }))
    assert.equal(stats?.ttftMs, 7)
    assert.equal(stats?.promptTokens, 90)
    assert.equal(stats?.generatedTokens, 11)
    assert.equal(stats?.decodeTokensPerSecond, 10)
  })

  it("adds up both runs' drafted tokens, sources in the order first used, and keeps one run's alone", () => {
    const before = run({ speculation: { drafted: 10, accepted: 8, passes: 3, sources: ['prediction', 'lookup'] } })
    const after = run({ speculation: { drafted: 5, accepted: 1, passes: 2, sources: ['model', 'lookup'] } })
    assert.deepEqual(continuedStats(before, after)?.speculation, { drafted: 15, accepted: 9, passes: 5, sources: ['prediction', 'lookup', 'model'] })
    assert.deepEqual(continuedStats(before, run({}))?.speculation, before.speculation)
    assert.deepEqual(continuedStats(run({}), after)?.speculation, after.speculation)
    assert.ok(!('speculation' in (continuedStats(run({}), run({})) ?? {})), 'neither run drafted, yet the reply says it did')
  })

  it('keeps what there is when a run has no stats', () => {
    const only = run({})
    assert.equal(continuedStats(null, only), only)
    assert.equal(continuedStats(only, null), only)
    assert.equal(continuedStats(null, null), null)
  })
})
