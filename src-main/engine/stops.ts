// Stop strings on streamed text: text that could still become a stop string is held back, so a
// stop string never reaches the user even when split across tokens.
//
// The stream stops at the first position where some stop string ends (as if fed one character
// at a time, however the text is chunked); the text before that stop string is shown, the stop
// string and anything after it are dropped. Held-back text is at most the longest stop minus one
// character, so a push costs O(chunk + longest stop squared x stops).

export interface StopResult {
  /** Text safe to show now. When stopped, everything before the stop string. */
  text: string
  /** True once a stop string has appeared; later pushes return '' and stay stopped. */
  stopped: boolean
  /** The stop string that matched, when stopped. */
  stop?: string
}

export class StopMatcher {
  private readonly stops: string[]
  private readonly longest: number
  /** The end of the text seen so far that is a proper prefix of some stop string. */
  private held = ''
  private stopped = false

  constructor(stops: readonly string[]) {
    this.stops = [...new Set(stops.filter((s) => s.length > 0))]
    this.longest = Math.max(0, ...this.stops.map((s) => s.length))
  }

  /** Feeds streamed text (e.g. from TextStream#push). */
  push(text: string): StopResult {
    if (this.stopped) return { text: '', stopped: true }
    if (this.stops.length === 0) return { text, stopped: false }
    const buffer = this.held + text
    // No stop lies wholly inside `held` (it would have matched already), so the first stop to
    // end is the one whose first occurrence ends earliest; on a tie, the longer one.
    let bestEnd = Infinity
    let bestStart = 0
    let best: string | undefined
    for (const stop of this.stops) {
      const start = buffer.indexOf(stop)
      if (start < 0) continue
      const end = start + stop.length
      if (end < bestEnd || (end === bestEnd && start < bestStart)) {
        bestEnd = end
        bestStart = start
        best = stop
      }
    }
    if (best !== undefined) {
      this.stopped = true
      this.held = ''
      return { text: buffer.slice(0, bestStart), stopped: true, stop: best }
    }
    const keep = this.heldLength(buffer)
    this.held = buffer.slice(buffer.length - keep)
    return { text: buffer.slice(0, buffer.length - keep), stopped: false }
  }

  /** Ends the stream without a stop: returns the held-back text. */
  flush(): string {
    const text = this.held
    this.held = ''
    return text
  }

  /** Length of the longest suffix of buffer that a stop string starts with. */
  private heldLength(buffer: string): number {
    for (let k = Math.min(buffer.length, this.longest - 1); k > 0; k--) {
      const suffix = buffer.slice(buffer.length - k)
      if (this.stops.some((s) => s.startsWith(suffix))) return k
    }
    return 0
  }
}
