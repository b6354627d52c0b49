// Seeded pseudo-random numbers (mulberry32), reproducible across runs and machines: the builder's
// weights, and the random data of the bench and the tests.

export class Rng {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /**
   * `n` values with the given mean and standard deviation, uniformly distributed: the shape of
   * the distribution does not matter for random test weights, and this is 3x faster than normal
   * samples, which counts for the 100M-parameter benchmark shapes.
   */
  weights(n: number, std: number, mean = 0): Float32Array {
    const out = new Float32Array(n)
    const half = std * Math.sqrt(3)
    for (let i = 0; i < n; i++) out[i] = mean + half * (2 * this.next() - 1)
    return out
  }
}

/** `Rng#next` as a function, for code that draws from a `() => number`. */
export function seededRandom(seed: number): () => number {
  const rng = new Rng(seed)
  return () => rng.next()
}
