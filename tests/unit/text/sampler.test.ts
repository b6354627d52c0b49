import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createRng, sample } from '../../../src-main/engine/sampler.ts'
import type { SamplerParams } from '../../../src-main/engine/sampler.ts'

const OFF: SamplerParams = { temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 }

function randomLogits(vocab: number, seed: number, scale = 4): Float32Array {
  const rng = createRng(seed)
  return Float32Array.from({ length: vocab }, () => (rng.next() - 0.5) * 2 * scale)
}

function argmax(values: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i
  return best
}

/** Ids sorted by logit, highest first. */
function ranked(logits: Float32Array): number[] {
  return Array.from(logits.keys()).sort((a, b) => (logits[b] as number) - (logits[a] as number))
}

function softmax(logits: ArrayLike<number>, temperature: number): number[] {
  const values = Array.from(logits, (l) => l / temperature)
  const max = values.reduce((a, b) => Math.max(a, b), -Infinity)
  const exps = values.map((v) => Math.exp(v - max))
  const total = exps.reduce((a, b) => a + b, 0)
  return exps.map((e) => e / total)
}

/** The nucleus as HF computes it: the shortest prefix of the ranking whose mass reaches p. */
function nucleus(logits: Float32Array, temperature: number, p: number): Set<number> {
  const probs = softmax(logits, temperature)
  const kept = new Set<number>()
  let acc = 0
  for (const id of ranked(logits)) {
    kept.add(id)
    acc += probs[id] as number
    if (acc >= p) break
  }
  return kept
}

function draws(logits: Float32Array, params: SamplerParams, n: number, seed = 1, recent: number[] = []): number[] {
  const rng = createRng(seed)
  return Array.from({ length: n }, () => sample(logits, params, rng, recent))
}

describe('createRng', () => {
  it('repeats its sequence for the same seed and changes it for another', () => {
    const a = createRng(42)
    const b = createRng(42)
    const c = createRng(43)
    const seqA = Array.from({ length: 100 }, () => a.next())
    assert.deepEqual(Array.from({ length: 100 }, () => b.next()), seqA)
    assert.notDeepEqual(Array.from({ length: 100 }, () => c.next()), seqA)
  })

  it('stays in [0, 1) and spreads evenly over ten bins', () => {
    const rng = createRng(7)
    const bins = new Array<number>(10).fill(0)
    for (let i = 0; i < 100_000; i++) {
      const x = rng.next()
      assert.ok(x >= 0 && x < 1)
      const bin = Math.floor(x * 10)
      bins[bin] = (bins[bin] ?? 0) + 1
    }
    for (const count of bins) assert.ok(Math.abs(count - 10_000) < 500, `bin count ${count}`)
  })
})

describe('sample', () => {
  it('is argmax at temperature 0 whatever the other settings', () => {
    for (let seed = 0; seed < 20; seed++) {
      const logits = randomLogits(1000, seed)
      const params = { temperature: 0, topK: 5, topP: 0.1, minP: 0.5, repetitionPenalty: 1 }
      assert.equal(sample(logits, params, createRng(seed), []), argmax(logits))
    }
  })

  it('picks the same as greedy with top-k 1 at any temperature', () => {
    for (let seed = 0; seed < 20; seed++) {
      const logits = randomLogits(1000, seed, 0.01)
      assert.equal(sample(logits, { ...OFF, temperature: 5, topK: 1 }, createRng(seed), []), argmax(logits))
    }
  })

  it('repeats the same tokens for the same seed', () => {
    const logits = randomLogits(5000, 3, 1)
    const params = { temperature: 0.8, topK: 0, topP: 0.9, minP: 0, repetitionPenalty: 1 }
    assert.deepEqual(draws(logits, params, 200, 11), draws(logits, params, 200, 11))
    assert.notDeepEqual(draws(logits, params, 200, 12), draws(logits, params, 200, 11))
  })

  it('never picks outside the top k', () => {
    const logits = randomLogits(3000, 5, 1)
    const top = new Set(ranked(logits).slice(0, 8))
    const seen = new Set(draws(logits, { ...OFF, temperature: 2, topK: 8 }, 2000))
    for (const id of seen) assert.ok(top.has(id), `token ${id} is not in the top 8`)
    assert.equal(seen.size, 8)
  })

  it('never picks outside the nucleus, with or without top-k', () => {
    for (let seed = 0; seed < 3; seed++) {
      const logits = randomLogits(1000, seed, 6)
      for (const topK of [0, 200]) {
        const inTopK = new Float32Array(logits.length).fill(-Infinity)
        for (const id of topK > 0 ? ranked(logits).slice(0, topK) : ranked(logits)) inTopK[id] = logits[id] as number
        const kept = nucleus(inTopK, 0.7, 0.5)
        const seen = new Set(draws(logits, { ...OFF, temperature: 0.7, topK, topP: 0.5 }, 500, seed))
        for (const id of seen) assert.ok(kept.has(id), `seed ${seed} top-k ${topK}: token ${id} is outside the nucleus`)
        if (kept.size <= 20) assert.equal(seen.size, kept.size, 'every nucleus token is reachable')
      }
    }
  })

  it('finds the nucleus of a flat 151936-token distribution without sorting it', () => {
    const logits = randomLogits(151_936, 9, 0.5)
    const kept = nucleus(logits, 1, 0.3)
    for (const id of draws(logits, { ...OFF, topP: 0.3 }, 100, 2)) assert.ok(kept.has(id))
  })

  it('never picks a token below min-p of the most likely one', () => {
    const logits = randomLogits(2000, 8, 3)
    const probs = softmax(logits, 1.5)
    const pMax = Math.max(...probs)
    const seen = new Set(draws(logits, { ...OFF, temperature: 1.5, minP: 0.2 }, 1000))
    for (const id of seen) assert.ok((probs[id] as number) >= 0.2 * pMax, `token ${id} is below min-p`)
    assert.ok(seen.has(argmax(logits)))
  })

  it('matches softmax(logits / temperature) over many draws', () => {
    const logits = Float32Array.of(2, 1, 0.5, 0, -1)
    for (const temperature of [1, 0.5]) {
      const expected = softmax(logits, temperature)
      const counts = new Array<number>(logits.length).fill(0)
      const n = 40_000
      for (const id of draws(logits, { ...OFF, temperature }, n, 5)) counts[id] = (counts[id] ?? 0) + 1
      counts.forEach((c, id) => {
        assert.ok(Math.abs(c / n - (expected[id] as number)) < 0.01, `T=${temperature} token ${id}: ${c / n} vs ${expected[id]}`)
      })
    }
  })

  it('divides positive and multiplies negative logits of recent tokens, once each', () => {
    const greedy = { ...OFF, temperature: 0, repetitionPenalty: 2 }
    // 3 / 2 = 1.5 < 2: the penalised token loses.
    assert.equal(sample(Float32Array.of(3, 2, 1), greedy, createRng(0), [0]), 1)
    // Once: 1.5 > 1, it still wins; penalised twice (0.75) it would lose.
    assert.equal(sample(Float32Array.of(3, 1, 0.5), greedy, createRng(0), [0, 0]), 0)
    // -1 * 2 = -2 < -1.5: a negative logit gets more negative.
    assert.equal(sample(Float32Array.of(-1, -1.5, -3), greedy, createRng(0), [0]), 1)
  })

  it('leaves the logits untouched and ignores recent ids outside the vocab', () => {
    const logits = randomLogits(100, 1)
    const copy = Float32Array.from(logits)
    sample(logits, { ...OFF, repetitionPenalty: 1.3, topK: 10, topP: 0.9, minP: 0.05 }, createRng(1), [1, 2, 3, 500, -1])
    assert.deepEqual(logits, copy)
  })

  it('does not carry the penalty over to the next call', () => {
    const logits = Float32Array.of(3, 2, 1)
    const greedy = { ...OFF, temperature: 0, repetitionPenalty: 2 }
    assert.equal(sample(logits, greedy, createRng(0), [0]), 1)
    assert.equal(sample(logits, greedy, createRng(0), []), 0)
  })
})
