import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createIdleUnloader, type Clock } from '../../../src-main/models/idle-unload.ts'

/** A clock whose time moves only when the test advances it. */
function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 0
  let timers: Array<{ at: number; fn: () => void; id: number }> = []
  let nextId = 1
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++
      timers.push({ at: now + ms, fn, id })
      return id
    },
    clearTimeout(handle) {
      timers = timers.filter((t) => t.id !== handle)
    },
    advance(ms) {
      const until = now + ms
      for (;;) {
        const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0]
        if (!due) break
        timers = timers.filter((t) => t !== due)
        now = due.at
        due.fn()
      }
      now = until
    },
  }
}

const MINUTE = 60_000

describe('createIdleUnloader', () => {
  it('unloads once after the idle time since the last use, and not again until used', () => {
    const clock = fakeClock()
    let unloads = 0
    const idle = createIdleUnloader({ idleMs: 5 * MINUTE, onIdle: () => void unloads++, clock })
    idle.touch()
    clock.advance(4 * MINUTE)
    idle.touch()
    clock.advance(4 * MINUTE)
    assert.equal(unloads, 0, 'each use restarts the countdown')
    clock.advance(MINUTE)
    assert.equal(unloads, 1)
    clock.advance(60 * MINUTE)
    assert.equal(unloads, 1)
  })

  it('never unloads during a generation, and counts idle time from its end', () => {
    const clock = fakeClock()
    let unloads = 0
    const idle = createIdleUnloader({ idleMs: MINUTE, onIdle: () => void unloads++, clock })
    const end = idle.begin()
    clock.advance(10 * MINUTE)
    assert.equal(unloads, 0)
    end()
    end()
    clock.advance(MINUTE - 1)
    assert.equal(unloads, 0)
    clock.advance(1)
    assert.equal(unloads, 1)
  })

  it('waits for every overlapping generation to end', () => {
    const clock = fakeClock()
    let unloads = 0
    const idle = createIdleUnloader({ idleMs: MINUTE, onIdle: () => void unloads++, clock })
    const endA = idle.begin()
    const endB = idle.begin()
    endA()
    clock.advance(5 * MINUTE)
    assert.equal(unloads, 0)
    endB()
    clock.advance(MINUTE)
    assert.equal(unloads, 1)
  })

  it('can be turned off and on, and stops for good when disposed', () => {
    const clock = fakeClock()
    let unloads = 0
    const idle = createIdleUnloader({ idleMs: MINUTE, onIdle: () => void unloads++, clock })
    idle.touch()
    idle.setIdleMs(null)
    clock.advance(10 * MINUTE)
    assert.equal(unloads, 0)
    idle.setIdleMs(2 * MINUTE)
    assert.equal(unloads, 0)
    clock.advance(0)
    assert.equal(unloads, 1, 'already idle longer than the new time: unloads at once')
    idle.touch()
    idle.dispose()
    clock.advance(10 * MINUTE)
    assert.equal(unloads, 1)
  })
})
