// A smaller model with the target's vocabulary, loaded beside it to draft tokens where the text
// offers none. It keeps a KV cache for each of the last few conversations, brought in line with
// the target's tokens before every draft by their longest common prefix: whatever the target's
// cache went through (a truncate after a rejected draft, an edit, a branch, a snapshot restored)
// the draft's follows by cutting back to what they share and prefilling the rest at the small
// model's speed. Draft caches are not written to snapshots: rebuilding one costs a prefill of
// the small model, once per conversation that comes back.

import type { GenerationParams } from '../../../src-shared/types.ts'
import { commonPrefix } from '../kv-pool.ts'
import type { KvCache } from '../kv-cache.ts'
import type { LoadedModel } from '../load-model.ts'
import { createRng, probabilities, sample, sampleFrom, type Rng } from '../sampler.ts'

/** Tokens per pass when the draft cache catches up with the target's. */
const CATCH_UP_CHUNK = 256
/** Conversations whose draft caches are kept; the least recently drafted for goes first. */
const CACHES_KEPT = 4

export interface ModelDraft {
  tokens: number[]
  /** The distributions the tokens were sampled from; null for greedy drafts. */
  q: Float32Array[] | null
}

export class DraftModel {
  readonly model: LoadedModel
  /** Draft caches by the target cache's key, least recently used first (Map order). */
  private caches = new Map<string, KvCache>()
  private rng: Rng = createRng(0)
  private qRows: Float32Array[] = []

  constructor(model: LoadedModel) {
    this.model = model
  }

  /** The draft cache for the conversation (pool key) `key`, made most recently used. */
  private cacheFor(key: string): KvCache {
    let cache = this.caches.get(key)
    if (cache) this.caches.delete(key)
    else cache = this.model.session.emptyCache()
    this.caches.set(key, cache)
    for (const [old, evicted] of this.caches) {
      if (this.caches.size <= CACHES_KEPT) break
      evicted.dispose()
      this.caches.delete(old)
    }
    return cache
  }

  /** Bytes the draft caches hold. */
  get bytes(): number {
    let total = 0
    for (const cache of this.caches.values()) total += cache.bytes
    return total
  }

  /** Forgets a conversation's draft cache. */
  drop(key: string): void {
    this.caches.get(key)?.dispose()
    this.caches.delete(key)
  }

  /** Seeds the draft's own sampling so a seeded reply is reproducible, drafts included. */
  reseed(seed: number): void {
    this.rng = createRng((seed ^ 0x5bd1e995) >>> 0)
  }

  /**
   * Up to `k` tokens the draft model expects after `fed` and `next`, in the draft cache of `key`. Greedy: its argmax at each
   * step; else sampled from its distribution under the same parameters, which is returned with
   * them for the verification rule. Stops early after an end-of-reply token.
   */
  async draft(key: string, fed: readonly number[], next: number, k: number, params: GenerationParams, greedy: boolean): Promise<ModelDraft> {
    const { session, tokenizer, info } = this.model
    const context = [...fed, next]
    const cache = this.cacheFor(key)
    cache.truncate(Math.min(commonPrefix(cache.tokens, context), context.length - 1))
    let logits: Float32Array | null = null
    for (let i = cache.nPast; i < context.length; ) {
      const chunk = info.multiTokenPass || cache.nPast === 0 ? CATCH_UP_CHUNK : 1
      const end = Math.min(context.length, i + chunk)
      logits = await session.forward(cache, context.slice(i, end), { logits: 'last' })
      i = end
    }
    if (!logits) return { tokens: [], q: null }
    const tokens: number[] = []
    const q: Float32Array[] | null = greedy ? null : []
    for (let i = 0; i < k; i++) {
      let token: number
      if (greedy) {
        token = sample(logits, params, this.rng, cache.tokens)
      } else {
        this.qRows[i] ??= new Float32Array(logits.length)
        const row = probabilities(logits, params, cache.tokens, this.qRows[i]!)
        token = sampleFrom(row, this.rng)
        q!.push(row)
      }
      tokens.push(token)
      if (i === k - 1 || tokenizer.eosIds.has(token)) break
      logits = await session.forward(cache, [token], { logits: 'last' })
    }
    return { tokens, q }
  }

  /** Frees the cache and the model's session. */
  async release(): Promise<void> {
    for (const cache of this.caches.values()) cache.dispose()
    this.caches.clear()
    await this.model.session.release()
  }
}
