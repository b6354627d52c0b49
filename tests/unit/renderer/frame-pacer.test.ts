// The streaming reply's renders, paced: once a frame while frames are cheap; after a frame that took
// longer than the budget (layout and paint included), idle time as long as that frame before the next.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FRAME_BUDGET_MS, FramePacer, MAX_IDLE_MS, type PacerClock } from '../../../src-renderer/lib/frame-pacer.ts'

/** A clock whose frames and timers run only when the test moves time on; a frame every 16 ms. */
class FakeClock implements PacerClock {
  time = 0
  #frames: (() => void)[] = []
  #timers: { at: number; callback: () => void }[] = []
  now(): number {
    return this.time
  }
  frame(callback: () => void): void {
    this.#frames.push(callback)
  }
  after(ms: number, callback: () => void): void {
    this.#timers.push({ at: this.time + ms, callback })
  }
  /** Runs the timers due by the next frame, then the frame's callbacks (as a browser would). */
  nextFrame(): void {
    this.time += 16
    for (const timer of this.#timers.filter((t) => t.at <= this.time)) {
      this.#timers.splice(this.#timers.indexOf(timer), 1)
      timer.callback()
    }
    const frames = this.#frames
    this.#frames = []
    for (const callback of frames) callback()
  }
  get idle(): boolean {
    return this.#frames.length === 0 && this.#timers.length === 0
  }
}

/** A pacer whose run costs `cost(i)` ms of the page's time (the i-th run), and when each run started. */
function paced(cost: (i: number) => number) {
  const clock = new FakeClock()
  const runs: number[] = []
  const pacer = new FramePacer(() => {
    runs.push(clock.time)
    clock.time += cost(runs.length - 1)
  }, clock)
  return { clock, runs, pacer }
}

describe('FramePacer', () => {
  it('runs once a frame for any number of requests while frames are cheap', () => {
    const { clock, runs, pacer } = paced(() => 2)
    for (let frame = 0; frame < 5; frame++) {
      for (let i = 0; i < 10; i++) pacer.request()
      clock.nextFrame()
    }
    assert.equal(runs.length, 5)
    // One frame apart: the next run is drawn in the frame its predecessor was measured in.
    assert.deepEqual(runs.slice(1).map((t, i) => t - runs[i]! <= 16 + 2), [true, true, true, true])
  })

  it('stops asking for frames once nothing is pending', () => {
    const { clock, runs, pacer } = paced(() => 2)
    pacer.request()
    clock.nextFrame()
    clock.nextFrame()
    assert.equal(runs.length, 1)
    assert.equal(clock.idle, true)
    pacer.request()
    clock.nextFrame()
    assert.equal(runs.length, 2)
  })

  it('leaves the page idle after a costly frame, as long as that frame took', () => {
    const { clock, runs, pacer } = paced((i) => (i === 0 ? 400 : 2))
    pacer.request()
    clock.nextFrame()
    pacer.request()
    clock.nextFrame()
    assert.ok(pacer.lastCost > FRAME_BUDGET_MS)
    const measured = clock.time
    // No run within the idle time, however often one is asked for.
    while (clock.time < measured + pacer.lastCost - 16) {
      pacer.request()
      clock.nextFrame()
    }
    assert.equal(runs.length, 1)
    for (let i = 0; i < 3; i++) clock.nextFrame()
    assert.equal(runs.length, 2)
    assert.ok(runs[1]! - measured >= 400, `idle ${runs[1]! - measured} ms`)
    // Cheap again: back to a frame apart.
    pacer.request()
    clock.nextFrame()
    pacer.request()
    clock.nextFrame()
    assert.equal(runs.length, 4)
  })

  it('keeps the page idle about half the time while every frame is costly', () => {
    const { clock, runs, pacer } = paced(() => 300)
    for (let i = 0; i < 200; i++) {
      pacer.request()
      clock.nextFrame()
    }
    const busy = runs.length * 300
    assert.ok(runs.length >= 3, `${runs.length} runs`)
    assert.ok(busy / clock.time <= 0.55, `busy ${busy} of ${clock.time} ms`)
    assert.ok(busy / clock.time >= 0.4, `busy ${busy} of ${clock.time} ms`)
  })
  it('waits at most a second after a frame that spanned a hidden window', () => {
    const { clock, runs, pacer } = paced(() => 2)
    pacer.request()
    clock.nextFrame()
    // Hidden for a minute: no frame until it shows again.
    clock.time += 60_000
    pacer.request()
    clock.nextFrame()
    assert.ok(pacer.lastCost > 60_000)
    const shown = clock.time
    while (runs.length < 2 && clock.time < shown + 5_000) clock.nextFrame()
    assert.equal(runs.length, 2)
    assert.ok(runs[1]! - shown <= MAX_IDLE_MS + 32, `the next run came ${runs[1]! - shown} ms after`)
  })
})
