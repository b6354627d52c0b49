// probabilities() is the distribution sample() draws from, filter for filter; sampleFrom() draws
// from a distribution given as numbers. Both are what the speculative sampling rule is built on.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AppError } from '../../../../src-shared/errors.ts'
import { createRng, probabilities, sample, sampleFrom, type Rng, type SamplerParams } from '../../../../src-main/engine/sampler.ts'

const OFF: SamplerParams = { temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 }
const LOGITS = Float32Array.of(2.1, -0.4, 1.3, 0.2, 3, -1.5, 0.9, 1.8)

/** Each token's share of `n` draws is within 4.5 standard errors of `p`, and 0 where p is 0. */
function assertFrequencies(counts: number[], p: ArrayLike<number>, n: number, label: string): void {
  counts.forEach((count, id) => {
    const expected = p[id] as number
    if (expected === 0) return assert.equal(count, 0, `${label}: token ${id} has probability 0 but was drawn ${count} times`)
    const se = Math.sqrt((expected * (1 - expected)) / n)
    assert.ok(Math.abs(count / n - expected) <= 4.5 * se, `${label}: token ${id} drawn ${count / n}, expected ${expected}`)
  })
}

function sum(values: ArrayLike<number>): number {
  let total = 0
  for (let i = 0; i < values.length; i++) total += values[i] as number
  return total
}

function softmax(logits: ArrayLike<number>, temperature: number): number[] {
  const scaled = Array.from(logits, (l) => l / temperature)
  const max = scaled.reduce((a, b) => Math.max(a, b), -Infinity)
  const exps = scaled.map((v) => Math.exp(v - max))
  const total = exps.reduce((a, b) => a + b, 0)
  return exps.map((e) => e / total)
}

describe('probabilities', () => {
  const cases: [string, SamplerParams, number[], number][] = [
    // label, params, recent tokens, how many tokens keep weight
    ['no filter', OFF, [], 8],
    ['temperature 0.6', { ...OFF, temperature: 0.6 }, [], 8],
    ['top-k 3', { ...OFF, topK: 3 }, [], 3],
    // 0.47 + 0.19 + 0.14 reaches 0.8 at the third token.
    ['top-p 0.8', { ...OFF, topP: 0.8 }, [], 3],
    // p >= 0.2 * pMax: logits within ln(5) = 1.61 of the highest.
    ['min-p 0.2', { ...OFF, minP: 0.2 }, [], 3],
    ['repetition penalty 2', { ...OFF, repetitionPenalty: 2 }, [4, 1, 4], 8],
    // Tokens 0 and 2 penalised to 1.4 and 0.87; top-k keeps 6; their mass reaches 0.9 at the fourth.
    ['all of them', { temperature: 0.8, topK: 6, topP: 0.9, minP: 0.05, repetitionPenalty: 1.5 }, [0, 2], 4],
  ]
  for (const [label, params, recent, nonzero] of cases) {
    it(`gives the frequencies sample() draws with: ${label}`, () => {
      const p = probabilities(LOGITS, params, recent, new Float32Array(LOGITS.length))
      assert.equal(p.filter((v) => v > 0).length, nonzero, `${label}: tokens with weight`)
      assert.ok(Math.abs(sum(p) - 1) < 1e-6)
      const rng = createRng(3)
      const counts = new Array<number>(LOGITS.length).fill(0)
      const n = 100_000
      for (let i = 0; i < n; i++) {
        const id = sample(LOGITS, params, rng, recent)
        counts[id] = counts[id]! + 1
      }
      assertFrequencies(counts, p, n, label)
    })
  }

  it('is softmax(logits / temperature) where nothing is cut', () => {
    const p = probabilities(LOGITS, { ...OFF, temperature: 0.7 }, [], new Float32Array(LOGITS.length))
    softmax(LOGITS, 0.7).forEach((expected, id) => assert.ok(Math.abs(p[id]! - expected) < 1e-6))
  })

  it('keeps exactly the nucleus of a 151936-token vocab, summing to 1', () => {
    const rng = createRng(9)
    const logits = Float32Array.from({ length: 151_936 }, () => (rng.next() - 0.5) * 12)
    const out = new Float32Array(logits.length)
    for (const params of [{ ...OFF, topP: 0.3 }, { ...OFF, topK: 50, topP: 0.6 }, { ...OFF, temperature: 0.5, minP: 0.1 }]) {
      const p = probabilities(logits, params, [], out)
      const reference = softmax(logits, params.temperature)
      const ranked = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!)
      const candidates = params.topK > 0 ? ranked.slice(0, params.topK) : ranked
      const candidateMass = candidates.reduce((a, id) => a + reference[id]!, 0)
      const kept = new Set<number>()
      let acc = 0
      for (const id of candidates) {
        if (params.minP > 0 && reference[id]! < params.minP * reference[ranked[0]!]!) break
        kept.add(id)
        acc += reference[id]!
        if (acc >= params.topP * candidateMass) break
      }
      const nonzero = Array.from(p.keys()).filter((id) => p[id]! > 0)
      assert.deepEqual(new Set(nonzero), kept, JSON.stringify(params))
      assert.ok(Math.abs(sum(p) - 1) < 1e-5)
    }
  })

  it('refuses greedy parameters and an output of the wrong length', () => {
    const out = new Float32Array(LOGITS.length)
    for (const params of [{ ...OFF, temperature: 0 }, { ...OFF, topK: 1 }]) {
      assert.throws(() => probabilities(LOGITS, params, [], out), (e) => e instanceof AppError && e.code === 'INTERNAL')
    }
    assert.throws(() => probabilities(LOGITS, OFF, [], new Float32Array(3)), AppError)
  })
})

describe('sampleFrom', () => {
  it('draws in proportion to the weights, whatever their sum, and never a token of weight 0', () => {
    const weights = Float32Array.of(0, 0.5, 1.25, 0, 0.75, 0)
    const rng = createRng(5)
    const counts = new Array<number>(weights.length).fill(0)
    const n = 100_000
    for (let i = 0; i < n; i++) {
      const id = sampleFrom(weights, rng)
      counts[id] = counts[id]! + 1
    }
    assertFrequencies(counts, Array.from(weights, (w) => w / 2.5), n, 'weights summing to 2.5')
  })

  it('returns the last token with weight for a draw at the very top', () => {
    const top: Rng = { next: () => 1 }
    assert.equal(sampleFrom(Float32Array.of(0.25, 0.5, 0, 0), top), 1)
  })

  it('refuses a distribution with no mass', () => {
    assert.throws(() => sampleFrom(new Float32Array(4), createRng(1)), AppError)
  })
})
