// Idle policy: unload the model after some minutes without use, so an idle Hearth holds no memory.
//
// The app wires it to the engine host: begin() around each generation, touch() on load and on any
// other use, unload() from the callback. It never fires while a generation is running.

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms)
    // An armed idle timer must not keep the process alive at shutdown.
    t.unref()
    return t
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

export interface IdleUnloader {
  /** Marks use that lasts (a generation); call the returned function when it ends. */
  begin(): () => void
  /** Marks a moment of use (a load, a settings change) and restarts the idle countdown. */
  touch(): void
  /** Changes the idle time; null turns unloading off. */
  setIdleMs(ms: number | null): void
  dispose(): void
}

export function createIdleUnloader(options: {
  idleMs: number | null
  onIdle: () => void | Promise<void>
  clock?: Clock
}): IdleUnloader {
  const clock = options.clock ?? systemClock
  let idleMs = options.idleMs
  let busy = 0
  let lastUse = clock.now()
  let timer: unknown = null
  /** Armed only after use: once it has fired, nothing is loaded until the next touch/begin. */
  let armed = false

  const disarm = (): void => {
    if (timer !== null) clock.clearTimeout(timer)
    timer = null
  }
  const schedule = (): void => {
    disarm()
    if (!armed || busy > 0 || idleMs === null) return
    const wait = Math.max(0, lastUse + idleMs - clock.now())
    timer = clock.setTimeout(() => {
      timer = null
      if (!armed || busy > 0) return
      armed = false
      void options.onIdle()
    }, wait)
  }
  const use = (): void => {
    lastUse = clock.now()
    armed = true
  }

  return {
    begin() {
      use()
      busy++
      disarm()
      let ended = false
      return () => {
        if (ended) return
        ended = true
        busy--
        use()
        schedule()
      }
    },
    touch() {
      use()
      schedule()
    },
    setIdleMs(ms) {
      idleMs = ms
      schedule()
    },
    dispose() {
      armed = false
      disarm()
    },
  }
}
