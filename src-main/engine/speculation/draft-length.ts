// How many tokens to draft before each decode pass, chosen so that drafting never slows a reply
// down.
//
// Cost. A pass over w tokens costs c(w) = 1 + β(w - 1) plain passes: decoding reads every weight
// once however many positions it feeds, so β is small where decode is memory-bound (0.02-0.15 on
// a CPU) and larger on tiny models, where compute and every position's logits weigh more. β is
// fitted to the passes as they are recorded: a line through the median time of each width's
// recent passes, so a stray slow pass moves nothing. Until two widths have been seen, β = 0.1.
//
// Acceptance. h_i is the chance that drafted token i is kept given that the i - 1 before it were,
// estimated per position from the recent drafts (a Kaplan-Meier survival curve whose counts decay
// by DECAY per draft). One curve fits both shapes seen in practice: lookup drafts are all or
// nothing (h_1 middling, the rest near 1) and a draft model's tokens pass with about the same
// chance each (h_i near a constant). A position no recent draft reached takes the estimate of the
// one before. Misses come in runs (an edit, a passage the text has no copy of), so there are two
// curves, one for drafts after a draft whose first token was kept and one for drafts after a
// miss: a long accepted run is followed by long drafts, a miss by short ones, and a miss costs
// little. A pass with k drafts yields E(k) = 1 + Σ_{i<=k} Π_{j<=i} h_j tokens for c(k + 1), and
// next() drafts the k in [1, max] with the most tokens per unit of time.
//
// Backoff. When even that k is not expected to beat plain passes by MARGIN and the draft just
// recorded did not pay for itself, drafting stops for 1, 2, 4, ... 64 steps, each followed by one
// probe (the best k again, which is 1 or 2 when little is kept). A probe that pays halves the
// backoff and probes again at once, so a change of regime (an edit ends, the reply copies again)
// is picked up within one backoff. A reply whose drafts all miss thus pays for one narrow probe
// every 65 passes: in simulation (tests/unit/engine/speculation/draft-length.test.ts) above 97%
// of plain speed even where a drafted token costs a whole pass, while an always-kept stream
// drafts 16 from its second pass on.

/** Weight a draft keeps per draft recorded after it on its curve: about the last twenty count. */
const DECAY = 0.95
/** h_1 before any draft: it makes the first draft 2 tokens at the prior β. */
const PRIOR_KEPT = 0.5
/** Drafts' worth of evidence the prior counts for. */
const PRIOR_WEIGHT = 0.25
const PRIOR_BETA = 0.1
/** β is kept in this range: a noisy fit must neither make drafts free nor forbid them for good. */
const MIN_BETA = 0.001
const MAX_BETA = 4
/** Recent passes kept per width for the cost fit. */
const SAMPLES = 8
const MAX_BACKOFF = 64
/**
 * Drafting pays when it is expected to give 5% more tokens per unit of time than plain passes,
 * and a draft paid when it did: below that, the noise in the estimates could make a loss look
 * like a gain and keep it going.
 */
const MARGIN = 1.05
const DEFAULT_MAX = 16

export interface DraftLengthOptions {
  /** Most tokens drafted for one pass (default 16). */
  max?: number
}

/** One forward pass as the decode loop saw it. */
export interface PassRecord {
  /** Tokens fed: the chosen token and the drafts after it. */
  width: number
  drafted: number
  /** Drafts kept: the longest run the model agreed with. */
  accepted: number
  /** The pass, drafting included. */
  ms: number
}

export class DraftLength {
  private readonly max: number
  /**
   * [2][max + 1] at i: decayed count of drafts that put token i to the test (its i - 1 before
   * kept), after a draft whose first token was rejected (0) or kept (1).
   */
  private readonly reached: Float64Array[]
  /** [2][max + 1] at i: of those, the decayed count that kept token i. */
  private readonly kept: Float64Array[]
  /** Whether the latest draft's first token was kept: the curve that predicts the next draft. */
  private state = 1
  /** [(max + 1) * SAMPLES] ms of the latest passes of width w at (w - 1) * SAMPLES, a ring. */
  private readonly times: Float64Array
  /** [max + 1] passes recorded per width, at w - 1. */
  private readonly timeCounts: Int32Array
  private readonly scratch = new Float64Array(SAMPLES)
  private beta = PRIOR_BETA
  private backoff = 0
  private skipLeft = 0
  /** Set by choose(): the best draft length and the tokens per unit of time it is expected to give. */
  private bestK = 1
  private bestGain = 0

  constructor(opts: DraftLengthOptions = {}) {
    this.max = Math.max(1, Math.floor(opts.max ?? DEFAULT_MAX))
    this.reached = [new Float64Array(this.max + 1), new Float64Array(this.max + 1)]
    this.kept = [new Float64Array(this.max + 1), new Float64Array(this.max + 1)]
    this.times = new Float64Array((this.max + 1) * SAMPLES)
    this.timeCounts = new Int32Array(this.max + 1)
  }

  /** Tokens to draft for the coming pass; 0: decode plainly, without asking for a draft. */
  next(): number {
    if (this.skipLeft > 0) {
      this.skipLeft--
      return 0
    }
    this.choose()
    return this.bestK
  }

  /** Every pass, plain ones too (drafted 0): they are the yardstick drafts are measured by. */
  record(pass: PassRecord): void {
    const width = Math.min(this.max + 1, Math.max(1, Math.round(pass.width)))
    if (pass.ms > 0 && Number.isFinite(pass.ms)) {
      const count = this.timeCounts[width - 1]!
      this.times[(width - 1) * SAMPLES + (count % SAMPLES)] = pass.ms
      this.timeCounts[width - 1] = count + 1
      this.beta = this.fitBeta()
    }
    const drafted = Math.min(this.max, Math.floor(pass.drafted))
    if (!(drafted > 0)) return
    const accepted = Math.max(0, Math.min(drafted, Math.floor(pass.accepted)))
    const reached = this.reached[this.state]!
    const kept = this.kept[this.state]!
    for (let i = 1; i <= this.max; i++) {
      reached[i] = reached[i]! * DECAY
      kept[i] = kept[i]! * DECAY
    }
    for (let i = 1; i <= Math.min(drafted, accepted + 1); i++) {
      reached[i] = reached[i]! + 1
      if (i <= accepted) kept[i] = kept[i]! + 1
    }
    this.state = accepted > 0 ? 1 : 0

    const paid = accepted + 1 > MARGIN * (1 + this.beta * drafted)
    this.choose()
    if (this.bestGain > MARGIN) {
      this.backoff = 0
      this.skipLeft = 0
    } else if (paid) {
      this.backoff >>= 1
      this.skipLeft = 0
    } else {
      this.backoff = Math.min(MAX_BACKOFF, Math.max(1, this.backoff * 2))
      this.skipLeft = this.backoff
    }
  }

  /** Sets bestK and bestGain from the acceptance curve and the cost line. */
  private choose(): void {
    const reached = this.reached[this.state]!
    const kept = this.kept[this.state]!
    let h = PRIOR_KEPT
    let survive = 1
    let expected = 1
    this.bestK = 1
    this.bestGain = -Infinity
    for (let i = 1; i <= this.max; i++) {
      h = (kept[i]! + PRIOR_WEIGHT * h) / (reached[i]! + PRIOR_WEIGHT)
      survive *= h
      expected += survive
      const gain = expected / (1 + this.beta * i)
      if (gain > this.bestGain) {
        this.bestGain = gain
        this.bestK = i
      }
    }
  }

  /** β from the median time of each width seen, by least squares weighted by samples. */
  private fitBeta(): number {
    let sw = 0
    let sx = 0
    let sy = 0
    let sxx = 0
    let sxy = 0
    let widths = 0
    for (let w = 1; w <= this.max + 1; w++) {
      const n = Math.min(SAMPLES, this.timeCounts[w - 1]!)
      if (n === 0) continue
      const recent = this.scratch.subarray(0, n)
      recent.set(this.times.subarray((w - 1) * SAMPLES, (w - 1) * SAMPLES + n))
      recent.sort()
      const median = n % 2 === 1 ? recent[n >> 1]! : (recent[n / 2 - 1]! + recent[n / 2]!) / 2
      const x = w - 1
      sw += n
      sx += n * x
      sy += n * median
      sxx += n * x * x
      sxy += n * x * median
      widths++
    }
    if (widths < 2) return PRIOR_BETA
    const meanX = sx / sw
    const meanY = sy / sw
    const slope = (sxy / sw - meanX * meanY) / (sxx / sw - meanX * meanX)
    const intercept = meanY - slope * meanX
    // A line through zero or below at width 1 says a plain pass costs nothing next to a wide one.
    if (!(intercept > 0)) return slope > 0 ? MAX_BETA : MIN_BETA
    return Math.min(MAX_BETA, Math.max(MIN_BETA, slope / intercept))
  }
}
