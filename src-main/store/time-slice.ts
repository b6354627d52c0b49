// Long store work done in slices, so that replies streaming, the API server and other calls keep
// running while it goes on: the event loop gets a turn whenever a slice has used its budget.

import { performance } from 'node:perf_hooks'

/** Long enough that the turns cost little, short enough that a token streamed meanwhile is not held up visibly. */
export const SLICE_MS = 20

export class TimeSlicer {
  readonly budgetMs: number
  #since = performance.now()

  constructor(budgetMs = SLICE_MS) {
    this.budgetMs = budgetMs
  }

  /** True once the current slice has used its budget: end a transaction here and take a turn. */
  get spent(): boolean {
    return performance.now() - this.#since >= this.budgetMs
  }

  /** Gives the event loop a turn (timers and I/O included) when the slice is spent; else returns at once. */
  async turn(): Promise<void> {
    if (!this.spent) return
    await new Promise<void>((resolve) => setImmediate(resolve))
    this.#since = performance.now()
  }
}
