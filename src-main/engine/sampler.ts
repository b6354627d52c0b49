// Token sampler: a pure function of (logits, params, rng, recent tokens) run once per decode step.
//
// Order (as Hugging Face generate): repetition penalty -> temperature -> top-k -> top-p -> min-p.
// Temperature 0 (or top-k 1) is argmax, so greedy output is deterministic. The vocabulary is never
// sorted: top-k is a heap selection, top-p without top-k buckets candidates by log-probability and
// sorts only the bucket where the cumulative mass crosses p. Scratch buffers are module-level and
// grow to the largest vocab seen, so a call allocates nothing; the logits are never modified.
// probabilities() writes out the distribution sample() draws from, through the same code, for
// speculative decoding's verification rule (speculation/verify.ts).

import { AppError } from '../../src-shared/errors.ts'
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

/** sfc32 seeded through splitmix32: fast, 128 bits of state, good enough for sampling. */
export function createRng(seed: number): Rng {
  let s = seed >>> 0
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
  let a = splitmix()
  let b = splitmix()
  let c = splitmix()
  let d = splitmix()
  return {
    next(): number {
      const t = (((a + b) | 0) + d) | 0
      d = (d + 1) | 0
      a = b ^ (b >>> 9)
      b = (c + (c << 3)) | 0
      c = (c << 21) | (c >>> 11)
      c = (c + t) | 0
      return (t >>> 0) / 4294967296
    },
  }
}

/** Buckets for top-p over the whole vocab: width BUCKET_RANGE / BUCKETS nats of -log p. */
const BUCKETS = 1024
const BUCKET_RANGE = 32

let penalised = new Float32Array(0) // [vocab] logits after the repetition penalty
let marks = new Uint8Array(0) // [vocab] dedupes recentTokens
let candIds = new Int32Array(0) // [n] candidate token ids
let candLogits = new Float32Array(0) // [n] their (penalised) logits
let candProbs = new Float64Array(0) // [n] exp((logit - max) / temperature)
let candBucket = new Uint16Array(0) // [n] top-p bucket of each candidate
let crossingLogits = new Float32Array(0) // [members] logits in top-p's crossing bucket
const bucketMass = new Float64Array(BUCKETS)
// What weigh() leaves beside the candidates: top-p and min-p keep those with a logit >= keptFloor,
// whose candProbs sum to keptMass.
let keptFloor = -Infinity
let keptMass = 0

function reserve(vocab: number): void {
  if (penalised.length >= vocab) return
  penalised = new Float32Array(vocab)
  marks = new Uint8Array(vocab)
  candIds = new Int32Array(vocab)
  candLogits = new Float32Array(vocab)
  candProbs = new Float64Array(vocab)
  candBucket = new Uint16Array(vocab)
  crossingLogits = new Float32Array(vocab)
}

/**
 * Picks the next token id.
 * logits: [vocab] for the last position; never modified.
 * recentTokens: ids the repetition penalty applies to (each once, however often it appears;
 * ids outside the vocab are ignored).
 */
export function sample(
  logits: Float32Array,
  params: SamplerParams,
  rng: Rng,
  recentTokens: ArrayLike<number>,
): number {
  const vocab = logits.length
  if (vocab === 0) throw new AppError('INTERNAL', 'Cannot sample a token from empty logits.')
  reserve(vocab)
  const l = applyPenalty(logits, params.repetitionPenalty, recentTokens)
  if (!(params.temperature > 0) || params.topK === 1) return argmax(l)

  const n = weigh(l, params)
  const floor = keptFloor
  const u = rng.next() * keptMass
  let acc = 0
  let last = -1
  for (let i = 0; i < n; i++) {
    if ((candLogits[i] as number) < floor) continue
    acc += candProbs[i] as number
    last = candIds[i] as number
    if (acc > u) return last
  }
  return last
}

/**
 * The distribution sample() draws from, written into `out` ([vocab], zero for every token a filter
 * cut, summing to 1): the target's p in speculative sampling. Only for sampled decoding: a greedy
 * pass has no distribution but its argmax, which the caller compares with the draft directly.
 */
export function probabilities(
  logits: Float32Array,
  params: SamplerParams,
  recentTokens: ArrayLike<number>,
  out: Float32Array,
): Float32Array {
  const vocab = logits.length
  if (vocab === 0) throw new AppError('INTERNAL', 'Cannot take probabilities of empty logits.')
  if (!(params.temperature > 0) || params.topK === 1) {
    throw new AppError('INTERNAL', 'Greedy sampling has no distribution: compare the draft with the argmax.')
  }
  if (out.length !== vocab) throw new AppError('INTERNAL', `probabilities() writes ${vocab} values into ${out.length}.`)
  reserve(vocab)
  const n = weigh(applyPenalty(logits, params.repetitionPenalty, recentTokens), params)
  const floor = keptFloor
  const scale = 1 / keptMass
  out.fill(0)
  for (let i = 0; i < n; i++) {
    if ((candLogits[i] as number) >= floor) out[candIds[i] as number] = (candProbs[i] as number) * scale
  }
  return out
}

/**
 * A token drawn from `probs` by inverse CDF. The draw is scaled by the actual total, so a
 * distribution a rounding error away from 1 (or not normalised at all) is drawn from as it stands.
 */
export function sampleFrom(probs: Float32Array, rng: Rng): number {
  let total = 0
  for (let i = 0; i < probs.length; i++) if ((probs[i] as number) > 0) total += probs[i] as number
  if (!(total > 0)) throw new AppError('INTERNAL', 'Cannot sample from a distribution with no mass.')
  const u = rng.next() * total
  let acc = 0
  let last = -1
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number
    if (!(p > 0)) continue
    acc += p
    last = i
    if (acc > u) return i
  }
  return last
}

/**
 * The candidates sample() draws from, for temperature > 0 and top-k != 1: candIds/candLogits[0..n)
 * after top-k and candProbs[0..n) their unnormalised weights; sets keptFloor and keptMass for the
 * cuts of top-p and min-p. Returns n.
 */
function weigh(l: Float32Array, params: SamplerParams): number {
  const vocab = l.length
  const { temperature, topK, topP, minP } = params
  const n = topK > 0 && topK < vocab ? selectTopK(l, topK) : takeAll(l)
  let max = -Infinity
  for (let i = 0; i < n; i++) if ((candLogits[i] as number) > max) max = candLogits[i] as number
  const invT = 1 / temperature
  let total = 0
  for (let i = 0; i < n; i++) {
    const p = Math.exp(((candLogits[i] as number) - max) * invT)
    candProbs[i] = p
    total += p
  }

  // Both cuts keep every candidate whose logit is at least a floor: top-p a prefix of the sorted
  // candidates, min-p those with p >= minP * pMax, i.e. logit >= max + T * ln(minP).
  let floor = -Infinity
  if (topP < 1) {
    // Top-k leaves its candidates sorted; the whole vocab is not.
    floor = n < vocab ? topPFloorSorted(n, topP * total) : topPFloorBucketed(n, topP * total, max, invT)
  }
  if (minP > 0) floor = Math.max(floor, max + temperature * Math.log(minP))

  let kept = 0
  for (let i = 0; i < n; i++) if ((candLogits[i] as number) >= floor) kept += candProbs[i] as number
  keptFloor = floor
  keptMass = kept
  return n
}

/** HF's rule: a positive logit is divided by the penalty, a negative one multiplied. */
function applyPenalty(logits: Float32Array, penalty: number, recent: ArrayLike<number>): Float32Array {
  if (penalty === 1 || recent.length === 0) return logits
  const vocab = logits.length
  const out = penalised.subarray(0, vocab)
  out.set(logits)
  for (let i = 0; i < recent.length; i++) {
    const id = recent[i] as number
    if (!(id >= 0 && id < vocab) || marks[id] === 1) continue
    marks[id] = 1
    const v = out[id] as number
    out[id] = v > 0 ? v / penalty : v * penalty
  }
  for (let i = 0; i < recent.length; i++) {
    const id = recent[i] as number
    if (id >= 0 && id < vocab) marks[id] = 0
  }
  return out
}

function argmax(l: Float32Array): number {
  let best = 0
  let bestValue = -Infinity
  for (let i = 0; i < l.length; i++) {
    if ((l[i] as number) > bestValue) {
      bestValue = l[i] as number
      best = i
    }
  }
  return best
}

function takeAll(l: Float32Array): number {
  candLogits.set(l)
  for (let i = 0; i < l.length; i++) candIds[i] = i
  return l.length
}

/** Fills the candidates with the k largest logits, sorted descending; returns k. */
function selectTopK(l: Float32Array, k: number): number {
  // candIds/candLogits[0..k) is a min-heap on the logit while scanning.
  for (let i = 0; i < k; i++) {
    candIds[i] = i
    candLogits[i] = l[i] as number
  }
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i, k)
  for (let i = k; i < l.length; i++) {
    const v = l[i] as number
    if (v > (candLogits[0] as number)) {
      candIds[0] = i
      candLogits[0] = v
      siftDown(0, k)
    }
  }
  // Heap sort: moving each minimum to the end leaves the array sorted descending.
  for (let end = k - 1; end > 0; end--) {
    swap(0, end)
    siftDown(0, end)
  }
  return k
}

function siftDown(start: number, size: number): void {
  let i = start
  for (;;) {
    const left = 2 * i + 1
    if (left >= size) return
    const right = left + 1
    const smallest = right < size && (candLogits[right] as number) < (candLogits[left] as number) ? right : left
    if ((candLogits[smallest] as number) >= (candLogits[i] as number)) return
    swap(i, smallest)
    i = smallest
  }
}

function swap(i: number, j: number): void {
  const id = candIds[i] as number
  candIds[i] = candIds[j] as number
  candIds[j] = id
  const v = candLogits[i] as number
  candLogits[i] = candLogits[j] as number
  candLogits[j] = v
}

/** Candidates sorted descending: the logit of the token where the cumulative mass reaches target. */
function topPFloorSorted(n: number, target: number): number {
  let acc = 0
  for (let i = 0; i < n; i++) {
    acc += candProbs[i] as number
    if (acc >= target) return candLogits[i] as number
  }
  return -Infinity
}

/** Unsorted candidates: find the crossing bucket of -log p, then sort only that bucket. */
function topPFloorBucketed(n: number, target: number, max: number, invT: number): number {
  bucketMass.fill(0)
  const scale = BUCKETS / BUCKET_RANGE
  for (let i = 0; i < n; i++) {
    const b = Math.min(BUCKETS - 1, Math.floor((max - (candLogits[i] as number)) * invT * scale))
    candBucket[i] = b
    bucketMass[b] = (bucketMass[b] as number) + (candProbs[i] as number)
  }
  let acc = 0
  let crossing = -1
  for (let b = 0; b < BUCKETS; b++) {
    if (acc + (bucketMass[b] as number) >= target) {
      crossing = b
      break
    }
    acc += bucketMass[b] as number
  }
  if (crossing < 0) return -Infinity
  let m = 0
  for (let i = 0; i < n; i++) if (candBucket[i] === crossing) crossingLogits[m++] = candLogits[i] as number
  const members = crossingLogits.subarray(0, m).sort()
  for (let j = m - 1; j >= 0; j--) {
    acc += Math.exp(((members[j] as number) - max) * invT)
    if (acc >= target) return members[j] as number
  }
  return members[0] ?? -Infinity
}
