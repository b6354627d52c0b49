// Token sampler: a pure function of (logits, params, rng, recent tokens) run once per decode step.
//
// Order (as in Hugging Face generate): repetition penalty -> temperature -> top-k -> top-p -> min-p.
// Temperature 0 (or top-k 1) is argmax, so greedy output is deterministic.

import type { GenerationParams } from '../../src-shared/types.ts'

/** The parameters the sampler reads; the rest of GenerationParams belongs to the decode loop. */
export type SamplerParams = Pick<
  GenerationParams,
  'temperature' | 'topK' | 'topP' | 'minP' | 'repetitionPenalty'
>

/** A seeded pseudo-random source: same seed, same sequence. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
}

export function createRng(seed: number): Rng {
  throw new Error(`createRng(${seed}): not implemented yet`)
}

/**
 * Picks the next token id.
 * logits: [vocab] for the last position; never modified.
 * recentTokens: ids the repetition penalty applies to (duplicates are penalised once).
 */
export function sample(
  logits: Float32Array,
  params: SamplerParams,
  rng: Rng,
  recentTokens: ArrayLike<number>,
): number {
  throw new Error(`sample: not implemented yet (${logits.length}, ${params.temperature}, ${typeof rng}, ${recentTokens.length})`)
}
