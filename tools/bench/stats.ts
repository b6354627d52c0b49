// The bench's arithmetic: medians, spreads, rates, roofline bounds and memory growth.

/** Median; NaN for an empty list. */
export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5)
}

/** Linear-interpolated quantile q in [0, 1]; NaN for an empty list. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo)
}

/** Tokens per second for `tokens` done in `ms` milliseconds. */
export function rate(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : NaN
}

/** a / b, or null when either side is missing, so a missing peer never reads as a ratio of 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null
  return a / b
}

export interface ModelCost {
  /** Parameters, tied embeddings counted once. */
  parameters: number
  /** Bytes of weights one decode step reads: every matrix once (the tied table serves lm_head). */
  weightBytes: number
  kvBytesPerToken: number
  /**
   * FLOP a prompt token needs at least: 2 per projection weight. The embedding is a gather and the
   * logits are the last position's only, so the table adds nothing per token. Where a cost lacks
   * it, 2 per parameter (which overstates the work and so understates the bound).
   */
  prefillFlopsPerToken?: number
}

/** Decode's bound: every weight and the whole cache read once per token. */
export function decodeRoofline(readBytesPerSecond: number, cost: ModelCost, context: number): number {
  return readBytesPerSecond / (cost.weightBytes + cost.kvBytesPerToken * context)
}

/** Prefill's bound: the least FLOP per token (attention's quadratic term is left out, so it stays a bound). */
export function prefillRoofline(flopsPerSecond: number, cost: ModelCost): number {
  return flopsPerSecond / (cost.prefillFlopsPerToken ?? 2 * cost.parameters)
}

/** Least-squares slope of y over x (bytes per step for RSS samples); 0 for fewer than 2 points. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length)
  if (n < 2) return 0
  let mx = 0
  let my = 0
  for (let i = 0; i < n; i++) {
    mx += xs[i]!
    my += ys[i]!
  }
  mx /= n
  my /= n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my)
    den += (xs[i]! - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}
