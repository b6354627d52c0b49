// The stats of a reply written in more than one run: stopped, then continued.

import type { GenerationStats, SpeculationStats } from '../../src-shared/types.ts'

/**
 * Two runs of one reply as one: the prompt, prefill, wait and time to first token of the run that
 * wrote the first token; every token generated; decode speed over both runs' decode time; the
 * last run's stop reason, provider and dropped turns; both runs' drafted tokens. Either run may
 * have no stats (stopped before the engine began): then the other's stand.
 */
export function continuedStats(before: GenerationStats | null, after: GenerationStats | null): GenerationStats | null {
  if (before === null) return after
  if (after === null) return before
  const first = before.generatedTokens > 0 ? before : after
  const decodeMs = decodeTime(before) + decodeTime(after)
  const speculation = continuedSpeculation(before.speculation, after.speculation)
  const { speculation: _last, queueMs: _waited, ...rest } = after
  return {
    ...rest,
    ...(speculation === undefined ? {} : { speculation }),
    ...(first.queueMs === undefined ? {} : { queueMs: first.queueMs }),
    promptTokens: first.promptTokens,
    reusedTokens: first.reusedTokens,
    prefillMs: first.prefillMs,
    prefillTokensPerSecond: first.prefillTokensPerSecond,
    ttftMs: first.ttftMs,
    generatedTokens: before.generatedTokens + after.generatedTokens,
    decodeTokensPerSecond: decodeMs > 0 ? ((decodeSteps(before) + decodeSteps(after)) / decodeMs) * 1000 : 0,
  }
}

function continuedSpeculation(before?: SpeculationStats, after?: SpeculationStats): SpeculationStats | undefined {
  if (before === undefined || after === undefined) return before ?? after
  return {
    drafted: before.drafted + after.drafted,
    accepted: before.accepted + after.accepted,
    passes: before.passes + after.passes,
    sources: [...new Set([...before.sources, ...after.sources])],
  }
}

/** The first token of a run comes from prefill: decode speed counts the steps after it. */
function decodeSteps(stats: GenerationStats): number {
  return Math.max(0, stats.generatedTokens - 1)
}

function decodeTime(stats: GenerationStats): number {
  return stats.decodeTokensPerSecond > 0 ? (decodeSteps(stats) / stats.decodeTokensPerSecond) * 1000 : 0
}
