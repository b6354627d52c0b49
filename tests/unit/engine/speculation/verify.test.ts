// verifyDraft keeps the model's distribution: whatever q the draft came from, the token it settles
// on (the draft kept, or its replacement) is distributed as p, and the draft is kept as often as
// the rule allows (Σ min(p, q)), no less.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AppError } from '../../../../src-shared/errors.ts'
import { createRng, sampleFrom, type Rng } from '../../../../src-main/engine/sampler.ts'
import { verifyDraft, type Verdict } from '../../../../src-main/engine/speculation/verify.ts'

const TRIALS = 200_000

/** Each token's share of `n` draws is within 4.5 standard errors of `p`, and 0 where p is 0. */
function assertFrequencies(counts: number[], p: ArrayLike<number>, n: number, label: string): void {
  counts.forEach((count, id) => {
    const expected = p[id] as number
    if (expected === 0) return assert.equal(count, 0, `${label}: token ${id} has probability 0 but came out ${count} times`)
    const se = Math.sqrt((expected * (1 - expected)) / n)
    assert.ok(Math.abs(count / n - expected) <= 4.5 * se, `${label}: token ${id} came out ${count / n}, expected ${expected}`)
  })
}

function assertRate(hits: number, expected: number, n: number, label: string): void {
  const se = Math.sqrt((expected * (1 - expected)) / n) || 1 / n
  assert.ok(Math.abs(hits / n - expected) <= 4.5 * se, `${label}: kept ${hits / n} of drafts, expected ${expected}`)
}

/**
 * `TRIALS` drafts from q (or always `fixed` for a deterministic draft), each judged against p:
 * how often each token came out, and how many drafts were kept.
 */
function run(p: Float32Array, q: Float32Array | null, fixed: number, seed: number): { counts: number[]; kept: number } {
  const drafter = createRng(seed)
  const judge = createRng(seed + 1)
  const residual = new Float32Array(p.length)
  const counts = new Array<number>(p.length).fill(0)
  let kept = 0
  for (let i = 0; i < TRIALS; i++) {
    const draft = q ? sampleFrom(q, drafter) : fixed
    const verdict = verifyDraft(p, draft, q, judge, residual)
    if (verdict.accepted) {
      assert.equal(verdict.token, draft)
      kept++
    }
    counts[verdict.token] = counts[verdict.token]! + 1
  }
  return { counts, kept }
}

function minMass(p: Float32Array, q: Float32Array): number {
  let total = 0
  for (let i = 0; i < p.length; i++) total += Math.min(p[i]!, q[i]!)
  return total
}

describe('verifyDraft', () => {
  const sampled: [string, number[], number[]][] = [
    ['q overlapping p, with mass where p has none', [0.4, 0.3, 0.2, 0.1, 0], [0.1, 0.2, 0.3, 0.2, 0.2]],
    ['q with zeros where p has mass', [0.25, 0.25, 0.25, 0.25, 0], [0.5, 0.5, 0, 0, 0]],
    ['q equal to p', [0.5, 0.2, 0.2, 0.1, 0], [0.5, 0.2, 0.2, 0.1, 0]],
    ['q disjoint from p', [0, 0, 0.7, 0.3, 0], [0.6, 0.4, 0, 0, 0]],
    ['a peaked q and a flat p', [0.2, 0.2, 0.2, 0.2, 0.2], [0.9, 0.025, 0.025, 0.025, 0.025]],
  ]
  sampled.forEach(([label, pValues, qValues], index) => {
    it(`settles on tokens distributed as p: ${label}`, () => {
      const p = Float32Array.from(pValues)
      const q = Float32Array.from(qValues)
      const { counts, kept } = run(p, q, -1, 10 + index)
      assertFrequencies(counts, p, TRIALS, label)
      assertRate(kept, minMass(p, q), TRIALS, label)
    })
  })

  const P = Float32Array.of(0.4, 0.3, 0, 0.2, 0.1)
  for (const [label, draft] of [
    ['a deterministic draft the model likes', 0],
    ['a deterministic draft the model gives little weight', 4],
    ['a deterministic draft the model rules out', 2],
  ] as const) {
    it(`settles on tokens distributed as p: ${label}`, () => {
      const { counts, kept } = run(P, null, draft, 20 + draft)
      assertFrequencies(counts, P, TRIALS, label)
      assertRate(kept, P[draft]!, TRIALS, label)
    })
  }

  it('draws one number to keep a draft and one more to replace it, so a seed repeats its verdicts', () => {
    const p = Float32Array.of(0.1, 0.6, 0.3)
    const q = Float32Array.of(0.5, 0.2, 0.3)
    const judge = (seed: number): { verdicts: Verdict[]; draws: number[] } => {
      const rng = createRng(seed)
      let drawn = 0
      const counting: Rng = { next: () => (drawn++, rng.next()) }
      const residual = new Float32Array(3)
      const verdicts: Verdict[] = []
      const draws: number[] = []
      for (let i = 0; i < 200; i++) {
        const before = drawn
        verdicts.push(verifyDraft(p, i % 3, i % 2 === 0 ? q : null, counting, residual))
        draws.push(drawn - before)
      }
      return { verdicts, draws }
    }
    const a = judge(7)
    assert.deepEqual(judge(7), a)
    assert.notDeepEqual(judge(8).verdicts, a.verdicts)
    a.verdicts.forEach((v, i) => assert.equal(a.draws[i], v.accepted ? 1 : 2))
    assert.ok(a.verdicts.some((v) => v.accepted) && a.verdicts.some((v) => !v.accepted))
  })

  it('rejects a draft the model rules out, and falls back to p when nothing is left over', () => {
    const same = Float32Array.of(0, 1, 0)
    for (let seed = 0; seed < 20; seed++) {
      assert.deepEqual(verifyDraft(same, 0, same, createRng(seed), new Float32Array(3)), { accepted: false, token: 1 })
    }
  })

  it('refuses distributions over different vocabularies', () => {
    const p = Float32Array.of(0.5, 0.5)
    assert.throws(() => verifyDraft(p, 0, Float32Array.of(1, 0, 0), createRng(1), new Float32Array(2)), AppError)
    assert.throws(() => verifyDraft(p, 0, null, createRng(1), new Float32Array(3)), AppError)
  })
})
