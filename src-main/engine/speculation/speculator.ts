// Speculative decoding for one reply: where the drafts come from, how many to ask for, and the
// verification pass that keeps the longest run the model agrees with.
//
// A decode pass reads every weight to produce one token, so it is bound by memory bandwidth; a
// pass over a few more tokens reads the same weights and costs little more. Feeding the chosen
// token followed by k drafted ones gives the model's own choice at every one of those positions:
// where its choice equals the draft, the draft is kept and the next position's choice is already
// computed. Greedy replies are the same tokens plain decoding gives; sampled ones keep the model's
// distribution through the speculative sampling rule (verify.ts).

import type { DraftSource, GenerationParams, SpeculationStats } from '../../../src-shared/types.ts'
import type { KvCache } from '../kv-cache.ts'
import { probabilities, sample, type Rng } from '../sampler.ts'
import type { ModelSession } from '../session.ts'
import type { DraftModel } from './draft-model.ts'
import { DraftLength } from './draft-length.ts'
import { PromptLookup } from './prompt-lookup.ts'
import { verifyDraft } from './verify.ts'

export interface Draft {
  tokens: number[]
  source: DraftSource
  /**
   * The draft model's distribution each token was sampled from ([tokens.length] rows of the
   * vocab); null when the tokens were chosen without sampling (a lookup, or a greedy draft model).
   */
  q: Float32Array[] | null
  /** Time spent drafting, charged to the pass that verifies it. */
  ms: number
}

export interface SpeculatorOptions {
  session: ModelSession
  params: GenerationParams
  rng: Rng
  /** The prompt as prefilled: the text drafts are looked up in, with the reply as it grows. */
  prompt: readonly number[]
  /** Tokens of the text the reply is expected to be close to (the API's prediction); searched first. */
  prediction?: readonly number[]
  /** A smaller model with the same vocabulary; drafts from it where the text offers none. */
  draftModel?: DraftModel | null
  /** The target cache's pool key: the draft model keeps its cache under it. */
  cacheKey: string
  /** Most tokens drafted for one pass (default 16). */
  maxDraft?: number
}

export class Speculator {
  private readonly session: ModelSession
  private readonly params: GenerationParams
  private readonly rng: Rng
  private readonly greedy: boolean
  private readonly lookup: PromptLookup
  private readonly draftModel: DraftModel | null
  private readonly cacheKey: string
  private readonly length: DraftLength
  private readonly vocab: number
  /** Whether draft lengths follow measured pass times (see the constructor). */
  private readonly timed: boolean
  private p: Float32Array
  private residual: Float32Array
  private drafted = 0
  private accepted = 0
  private passes = 0
  private sources: DraftSource[] = []

  constructor(opts: SpeculatorOptions) {
    this.session = opts.session
    this.params = opts.params
    this.rng = opts.rng
    this.greedy = !(opts.params.temperature > 0) || opts.params.topK === 1
    this.lookup = new PromptLookup({ context: [...opts.prompt], replyStart: opts.prompt.length, prediction: opts.prediction ? [...opts.prediction] : undefined })
    this.draftModel = opts.draftModel ?? null
    this.cacheKey = opts.cacheKey
    this.length = new DraftLength({ max: opts.maxDraft ?? 16 })
    this.vocab = opts.session.vocab
    // A sampled draft model's drafts change which random draws the reply takes, so with a seed
    // the draft lengths must not follow the clock: they follow acceptance alone, and the same
    // seed gives the same reply. Text drafts and greedy replies never change the draws.
    this.timed = !(this.draftModel && !this.greedy && opts.params.seed !== null)
    this.p = new Float32Array(this.greedy ? 0 : this.vocab)
    this.residual = new Float32Array(this.greedy ? 0 : this.vocab)
  }

  /** A token handed out as part of the reply: the lookup text grows with it. */
  push(token: number): void {
    this.lookup.push(token)
  }

  /**
   * Drafts for the pass that feeds `next` after `fed` (the cache's tokens), at most `room`; null
   * when this pass should be plain (drafting has not paid lately, or nothing can be drafted).
   */
  async propose(fed: readonly number[], next: number, room: number): Promise<Draft | null> {
    const k = Math.min(room, this.length.next())
    if (k <= 0) return null
    const started = performance.now()
    const found = this.lookup.draft(k)
    if (found && found.tokens.length > 0) {
      return { tokens: found.tokens.slice(0, k), source: found.source, q: null, ms: performance.now() - started }
    }
    if (!this.draftModel) return null
    const drafted = await this.draftModel.draft(this.cacheKey, fed, next, k, this.params, this.greedy)
    if (drafted.tokens.length === 0) return null
    return { tokens: drafted.tokens, source: 'model', q: drafted.q, ms: performance.now() - started }
  }

  /**
   * One pass over `next` and the drafts; returns the drafts kept followed by the model's own next
   * token (not yet fed). The cache keeps `next` and the drafts kept, and nothing after them.
   */
  async verify(cache: KvCache, next: number, draft: Draft): Promise<number[]> {
    const base = cache.nPast
    const k = draft.tokens.length
    const started = performance.now()
    const rows = await this.session.forward(cache, [next, ...draft.tokens], { logits: 'all' })
    const V = this.vocab
    const settled: number[] = []
    let own = -1
    for (let j = 0; j <= k; j++) {
      const row = rows.subarray(j * V, (j + 1) * V)
      // The penalty's window is what plain decoding would have fed by then: the prompt, the reply
      // so far and the drafts kept before this position.
      const recent = this.params.repetitionPenalty === 1 ? cache.tokens : cache.tokens.slice(0, base + 1 + j)
      // Where the draft is one token for sure (a lookup, a prediction, a greedy reply) the model
      // chooses as plain decoding would, with the same draw of the seeded sampler, and the draft
      // is kept when the choices agree: the reply is the one plain decoding gives, token for
      // token, sampled or not. Kept with probability p(draft), this is the speculative sampling
      // rule for a draft distribution that puts all its mass on one token.
      if (j === k || !draft.q) {
        const choice = sample(row, this.params, this.rng, recent)
        if (j < k && choice === draft.tokens[j]) {
          settled.push(choice)
          continue
        }
        own = choice
        break
      }
      // A sampled draft model's token is kept with probability min(1, p/q), else replaced by a
      // draw from what p has beyond q (verify.ts): the reply keeps the model's distribution.
      const p = probabilities(row, this.params, recent, this.p)
      const verdict = verifyDraft(p, draft.tokens[j]!, draft.q[j]!, this.rng, this.residual)
      if (verdict.accepted) {
        settled.push(draft.tokens[j]!)
        continue
      }
      own = verdict.token
      break
    }
    cache.truncate(base + 1 + settled.length)
    const ms = this.timed ? performance.now() - started + draft.ms : 0
    this.length.record({ width: k + 1, drafted: k, accepted: settled.length, ms })
    this.drafted += k
    this.accepted += settled.length
    this.passes++
    if (!this.sources.includes(draft.source)) this.sources.push(draft.source)
    settled.push(own)
    return settled
  }

  /** A plain pass's time: the yardstick drafts are measured against. */
  recordPlain(ms: number): void {
    this.length.record({ width: 1, drafted: 0, accepted: 0, ms: this.timed ? ms : 0 })
  }

  /** What speculation did on this reply; null when nothing was drafted. */
  stats(): SpeculationStats | null {
    if (this.passes === 0) return null
    return { drafted: this.drafted, accepted: this.accepted, passes: this.passes, sources: [...this.sources] }
  }
}
