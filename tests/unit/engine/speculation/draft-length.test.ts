// DraftLength against a simulated decode loop: a pass over w tokens costs c(w) = 1 + β(w - 1)
// (reported in ms with seeded noise and the odd stall), an oracle says how many drafts the model
// keeps, and throughput is tokens per unit of simulated time next to plain decoding's 1.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createRng } from '../../../../src-main/engine/sampler.ts'
import { DraftLength } from '../../../../src-main/engine/speculation/draft-length.ts'

/** How many of `drafted` tokens the model keeps, the reply being `pos` tokens long. */
type Oracle = (pos: number, drafted: number) => number

interface Run {
  /** Tokens per unit of time over the reply, or over its part from `from` on. */
  speed: number
  /** What next() returned, pass by pass. */
  ks: number[]
  /** The reply length at each pass. */
  positions: number[]
}

function simulate(beta: number, tokens: number, oracle: Oracle, opts: { from?: number; max?: number; seed?: number } = {}): Run {
  const length = new DraftLength(opts.max === undefined ? {} : { max: opts.max })
  const noise = createRng(opts.seed ?? 1)
  const from = opts.from ?? 0
  const ks: number[] = []
  const positions: number[] = []
  let pos = 0
  let produced = 0
  let time = 0
  while (pos < tokens) {
    const k = length.next()
    const accepted = k > 0 ? oracle(pos, k) : 0
    const cost = 1 + beta * k
    ks.push(k)
    positions.push(pos)
    if (pos >= from) {
      produced += accepted + 1
      time += cost
    }
    pos += accepted + 1
    // 10 ms a plain pass, ±5%, and one pass in 50 stalled for five times as long.
    const stall = noise.next() < 0.02 ? 5 : 1
    length.record({ width: k + 1, drafted: k, accepted, ms: 10 * cost * stall * (0.95 + 0.1 * noise.next()) })
  }
  return { speed: produced / time, ks, positions }
}

const allMiss: Oracle = () => 0
const allKept: Oracle = (_, drafted) => drafted
/** Each drafted token kept with probability `alpha`, until the first one rejected. */
function perToken(alpha: number, seed: number): Oracle {
  const rng = createRng(seed)
  return (_, drafted) => {
    let kept = 0
    while (kept < drafted && rng.next() < alpha) kept++
    return kept
  }
}

describe('DraftLength', () => {
  for (const beta of [0.05, 0.3, 1]) {
    it(`decodes a reply whose drafts all miss at 95% of plain speed or more (β = ${beta})`, () => {
      const run = simulate(beta, 1000, allMiss)
      assert.ok(run.speed >= 0.95, `${run.speed}`)
      // It keeps probing, to notice when drafts start to be kept.
      const late = run.ks.slice(-300)
      assert.ok(late.some((k) => k > 0), 'probes late in the reply')
      assert.ok(late.filter((k) => k > 0).length <= 10, 'but rarely')
    })
  }

  it('decodes more than 3 times as fast when every draft is kept (β = 0.05)', () => {
    const run = simulate(0.05, 2000, allKept)
    assert.ok(run.speed >= 3, `${run.speed}`)
    assert.equal(run.ks[0], 2, 'a short first draft')
    assert.ok(run.ks.slice(1).every((k) => k === 16), 'the most from the second pass on')
  })

  it('never drafts more than its maximum', () => {
    const run = simulate(0.05, 500, allKept, { max: 5 })
    assert.equal(Math.max(...run.ks), 5)
  })

  for (const [beta, floor] of [[0.05, 1.5], [0.3, 1], [1, 0.95]] as const) {
    it(`is not slower than plain decoding when each drafted token is kept half the time (β = ${beta})`, () => {
      // Optimal fixed k gives 1.63 at β = 0.05 and 1.15 at β = 0.3; at β = 1 no draft can pay, so the probes' cost is the bound.
      const run = simulate(beta, 3000, perToken(0.5, 4))
      assert.ok(run.speed >= floor, `${run.speed}`)
    })
  }

  it('drafts about as far as pays for a draft model (each token kept 80% of the time, β = 0.05)', () => {
    // Σ 0.8^i / (1 + 0.05k) peaks at k = 7 or 8 with 3.09 tokens per unit of time.
    const run = simulate(0.05, 5000, perToken(0.8, 6))
    assert.ok(run.speed >= 2.9, `${run.speed}`)
  })

  for (const beta of [0.05, 0.3]) {
    it(`picks drafting up again when misses give way to kept drafts (β = ${beta})`, () => {
      const run = simulate(beta, 1500, (pos, drafted) => (pos < 1000 ? 0 : drafted), { from: 1000 })
      const switched = run.positions.findIndex((pos) => pos >= 1000)
      const firstKept = run.ks.findIndex((k, i) => i >= switched && k > 0)
      assert.ok(firstKept - switched <= 65, `first draft ${firstKept - switched} passes after the change`)
      const steady = beta === 0.05 ? 17 / 1.8 : 17 / 5.8
      assert.ok(run.speed >= 0.5 * steady, `${run.speed} after the change, ${steady} at best`)
    })
  }

  it('drafts short after a miss and long again once drafts are kept, as when a rewrite meets an edit', () => {
    // Copies of 150 tokens kept whole, then 15 edited tokens no draft gets right.
    const rewrite: Oracle = (pos, drafted) => {
      const at = pos % 165
      return at >= 150 ? 0 : Math.min(drafted, 149 - at)
    }
    const run = simulate(0.05, 165 * 20, rewrite)
    assert.ok(run.speed >= 4, `${run.speed}`)
    const afterMiss = run.ks.filter((k, i) => i > 0 && k > 0 && run.ks[i - 1]! > 0 && run.positions[i]! - run.positions[i - 1]! === 1)
    assert.ok(afterMiss.length > 0 && afterMiss.every((k) => k <= 4), `drafts right after a miss: ${afterMiss.join(' ')}`)
  })
})
