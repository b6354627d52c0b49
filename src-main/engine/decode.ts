// Decode: the reply's tokens one after another, from the prefill's logits on. Each pass either
// feeds the last chosen token alone (plain decoding) or feeds it with drafted tokens after it and
// keeps the longest run the model agrees with (speculative decoding, speculation/speculator.ts).

import type { GenerationParams } from '../../src-shared/types.ts'
import type { KvCache } from './kv-cache.ts'
import { sample, type Rng } from './sampler.ts'
import type { ModelSession } from './session.ts'
import type { Constraint } from './grammar/constraint.ts'
import type { Speculator } from './speculation/speculator.ts'

export interface DecodeOptions {
  session: ModelSession
  cache: KvCache
  /** The prefill's logits for the first reply token. */
  logits: Float32Array
  params: GenerationParams
  rng: Rng
  /** Most tokens the reply may have: the consumer stops there, and no draft runs past it. */
  limit: number
  /** Read after every pass: a cancel lands within one pass. */
  cancelled: () => boolean
  /** Null: plain decoding. */
  speculator: Speculator | null
  /** Masks each step's logits to a grammar (constrained decoding); decoding is then plain. */
  constraint?: Constraint | null
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * The reply's tokens in order, eos included when the model chooses it. The consumer ends the
 * reply by breaking out (eos, a stop string, the limit); the generator ends by itself only when
 * cancelled. The cache is left holding the prompt and every token handed out but the last, as
 * plain decoding leaves it: a token is fed only once the next one is needed, and drafted
 * positions past what was handed out are cut away.
 */
export async function* decodeTokens(opts: DecodeOptions): AsyncGenerator<number, void, undefined> {
  const { session, cache, params, rng, limit, cancelled } = opts
  const constraint = opts.constraint ?? null
  // A draft is verified against logits the grammar has not masked: constrained replies decode plainly.
  const speculator = constraint === null ? opts.speculator : null
  const choose = async (logits: Float32Array): Promise<number> => {
    if (constraint === null) return sample(logits, params, rng, cache.tokens)
    await constraint.mask(logits)
    const token = sample(logits, params, rng, cache.tokens)
    constraint.accept(token)
    return token
  }
  const base = cache.nPast
  let handedOut = 0
  try {
    // One turn of the event loop before each choice lets a cancel that came in during the pass be read.
    await yieldToEventLoop()
    if (cancelled()) return
    let next = await choose(opts.logits)
    for (;;) {
      handedOut++
      yield next
      speculator?.push(next)
      const room = limit - handedOut
      const draft = speculator && room > 0 ? await speculator.propose(cache.tokens, next, room) : null
      let settled: number[]
      if (draft) {
        settled = await speculator!.verify(cache, next, draft)
      } else {
        const started = performance.now()
        const logits = await session.forward(cache, [next], { logits: 'last' })
        settled = [await choose(logits)]
        speculator?.recordPlain(performance.now() - started)
      }
      await yieldToEventLoop()
      if (cancelled()) return
      // Drafts the model agreed with, then its own token; each is handed out before the next is
      // looked at, so a consumer that stops part-way leaves the rest unseen.
      for (let i = 0; i < settled.length - 1; i++) {
        handedOut++
        yield settled[i]!
        speculator?.push(settled[i]!)
      }
      next = settled[settled.length - 1]!
    }
  } finally {
    cache.truncate(base + Math.max(0, handedOut - 1))
  }
}
