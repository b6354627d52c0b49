// Transfer rate and time left from (time, bytes) samples over a sliding window.

export class RateMeter {
  /** (ms, bytes done) samples, oldest first, covering about windowMs. */
  private samples: Array<{ at: number; bytes: number }> = []

  constructor(private readonly windowMs = 5000) {}

  /** Records a running byte total at time `at` (ms); the total never decreases. */
  sample(at: number, bytes: number): void {
    this.samples.push({ at, bytes })
    // Keep one sample older than the window so the rate spans the whole window.
    while (this.samples.length > 2 && (this.samples[1]?.at ?? at) <= at - this.windowMs) this.samples.shift()
  }

  bytesPerSecond(): number {
    const first = this.samples[0]
    const last = this.samples[this.samples.length - 1]
    if (!first || !last || last.at <= first.at) return 0
    return Math.max(0, ((last.bytes - first.bytes) * 1000) / (last.at - first.at))
  }

  /** Seconds to transfer `remaining` bytes at the current rate; null while the rate is unknown. */
  etaSeconds(remaining: number): number | null {
    if (remaining <= 0) return 0
    const rate = this.bytesPerSecond()
    return rate > 0 ? Math.ceil(remaining / rate) : null
  }
}
