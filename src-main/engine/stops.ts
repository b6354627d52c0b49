// Stop strings on streamed text: text that could still become a stop string is held back, so a
// stop string never reaches the user even when split across tokens.

export interface StopResult {
  /** Text safe to show now. When stopped, everything before the stop string. */
  text: string
  /** True once a stop string has appeared; the stop string and anything after it are dropped. */
  stopped: boolean
  /** The stop string that matched, when stopped. */
  stop?: string
}

export class StopMatcher {
  constructor(stops: readonly string[]) {
    void stops
  }

  /** Feeds streamed text (e.g. from TextStream#push). */
  push(text: string): StopResult {
    throw new Error(`StopMatcher#push(${text.length}): not implemented yet`)
  }

  /** Ends the stream without a stop: returns the held-back text. */
  flush(): string {
    throw new Error('StopMatcher#flush: not implemented yet')
  }
}
