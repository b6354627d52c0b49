// Paces work that changes the page (a streaming reply's text) to what the page can draw. While a
// run and the layout and paint it causes fit in a frame or two, it runs once a frame. Once they
// take longer (one paragraph of tens of thousands of characters is laid out again whole each time
// it grows), the main thread is left idle for as long as the last frame took (up to a second)
// before the next run, so clicks, typing and the bridge's other messages are not starved by a
// reply that arrives faster than it can be laid out. The text still arrives whole: each run takes
// all that is pending.

/** Frames and timers; the browser's by default, a fake one in tests. */
export interface PacerClock {
  now(): number
  frame(callback: () => void): void
  after(ms: number, callback: () => void): void
}

const browserClock: PacerClock = {
  now: () => performance.now(),
  frame: (callback) => void requestAnimationFrame(callback),
  after: (ms, callback) => void setTimeout(callback, ms),
}

/** A frame that takes longer than this, its layout and paint included, is followed by idle time. */
export const FRAME_BUDGET_MS = 50
/**
 * The longest idle time: a window hidden between a run and its measurement (no frames while
 * hidden) reads as a frame as long as it was hidden, which must not hold the text back as long.
 */
export const MAX_IDLE_MS = 1000

export class FramePacer {
  readonly #run: () => void
  readonly #clock: PacerClock
  /** A run or a wait is scheduled, or the last run's frame is being measured. */
  #busy = false
  /** A run was asked for since the last one began. */
  #wanted = false
  /** What the last run's frame cost, its layout and paint included (ms). */
  #lastCost = 0

  constructor(run: () => void, clock: PacerClock = browserClock) {
    this.#run = run
    this.#clock = clock
  }

  /** What the last run's frame cost (ms), its layout and paint included. */
  get lastCost(): number {
    return this.#lastCost
  }

  /** Asks for a run: at the next frame, or after the idle time the last frame's cost calls for. */
  request(): void {
    this.#wanted = true
    if (this.#busy) return
    this.#busy = true
    this.#clock.frame(() => this.#tick())
  }

  #tick(): void {
    this.#wanted = false
    const started = this.#clock.now()
    this.#run()
    // What the run changed is laid out and painted before the next frame's callbacks run: the
    // time until then is what the run cost the page.
    this.#clock.frame(() => this.#settled(started))
  }

  #settled(started: number): void {
    this.#lastCost = this.#clock.now() - started
    if (!this.#wanted) {
      this.#busy = false
      return
    }
    // In this frame's callbacks still: a cheap frame is followed at once, drawn with this frame.
    if (this.#lastCost <= FRAME_BUDGET_MS) return this.#tick()
    this.#clock.after(Math.min(this.#lastCost, MAX_IDLE_MS), () => this.#clock.frame(() => this.#tick()))
  }
}
