// First come, first served: the engine runs one generation at a time, so requests wait their turn
// in arrival order, up to a bounded number; beyond that the server answers 429.

export type Release = () => void

interface Waiter {
  start: () => void
  signal: AbortSignal
  onAbort: () => void
}

/** How many recent turns the Retry-After estimate averages. */
const RECENT = 8

export class RequestQueue {
  readonly #concurrency: number
  readonly #maxWaiting: number
  #running = 0
  #waiting: Waiter[] = []
  /** Durations of the last turns, ms. */
  #recent: number[] = []

  constructor(opts: { concurrency?: number; maxWaiting: number }) {
    this.#concurrency = opts.concurrency ?? 1
    this.#maxWaiting = opts.maxWaiting
  }

  get running(): number {
    return this.#running
  }

  get waiting(): number {
    return this.#waiting.length
  }

  /**
   * A turn: resolves with its release when the caller may run, rejects with the signal's reason
   * if the signal aborts first (the place is given up). Null when the queue is full.
   */
  enter(signal: AbortSignal): Promise<Release> | null {
    if (this.#running < this.#concurrency && this.#waiting.length === 0) return Promise.resolve(this.#begin())
    if (this.#waiting.length >= this.#maxWaiting) return null
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        signal,
        start: () => resolve(this.#begin()),
        onAbort: () => {
          this.#waiting = this.#waiting.filter((w) => w !== waiter)
          reject(signal.reason)
        },
      }
      if (signal.aborted) return waiter.onAbort()
      signal.addEventListener('abort', waiter.onAbort, { once: true })
      this.#waiting.push(waiter)
    })
  }

  /** Seconds a client turned away should wait: the turns ahead of it times the recent mean turn. */
  retryAfterSeconds(): number {
    const mean = this.#recent.length === 0 ? 1000 : this.#recent.reduce((a, b) => a + b, 0) / this.#recent.length
    const ahead = this.#waiting.length + this.#running
    return Math.min(600, Math.max(1, Math.ceil((ahead * mean) / this.#concurrency / 1000)))
  }

  #begin(): Release {
    this.#running++
    const started = performance.now()
    let released = false
    return () => {
      if (released) return
      released = true
      this.#running--
      this.#recent = [...this.#recent.slice(1 - RECENT), performance.now() - started]
      this.#next()
    }
  }

  #next(): void {
    while (this.#running < this.#concurrency) {
      const waiter = this.#waiting.shift()
      if (waiter === undefined) return
      waiter.signal.removeEventListener('abort', waiter.onAbort)
      waiter.start()
    }
  }
}
