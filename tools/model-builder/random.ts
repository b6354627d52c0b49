// Seeded pseudo-random numbers for reproducible weights (mulberry32 + Box-Muller).

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

  /** `n` normal samples with standard deviation `std`, plus `mean`. */
  normal(n: number, std: number, mean = 0): Float32Array {
    const out = new Float32Array(n)
    for (let i = 0; i < n; i += 2) {
      const u = 1 - this.next()
      const r = Math.sqrt(-2 * Math.log(u)) * std
      const theta = 2 * Math.PI * this.next()
      out[i] = mean + r * Math.cos(theta)
      if (i + 1 < n) out[i + 1] = mean + r * Math.sin(theta)
    }
    return out
  }
}
