import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decodeRoofline, median, prefillRoofline, quantile, rate, ratio, slope } from '../../../tools/bench/stats.ts'
import { modelCost } from '../../../tools/bench/models.ts'
import { bestRoofline } from '../../../tools/bench/roofline.ts'
import { SMOLLM2_135M_CONFIG } from './shapes.ts'

describe('median and quantile', () => {
  it('interpolate between the middle values and ignore input order', () => {
    assert.equal(median([3, 1, 2]), 2)
    assert.equal(median([4, 1, 3, 2]), 2.5)
    assert.equal(quantile([10, 0], 0.25), 2.5)
    assert.ok(Number.isNaN(median([])))
  })
})

describe('rate and ratio', () => {
  it('gives tokens per second and refuses to divide by a missing figure', () => {
    assert.equal(rate(50, 2000), 25)
    assert.equal(ratio(30, 20), 1.5)
    assert.equal(ratio(30, null), null)
    assert.equal(ratio(null, 20), null)
    assert.equal(ratio(30, 0), null)
  })
})

describe('rooflines', () => {
  const cost = { parameters: 100e6, weightBytes: 400e6, kvBytesPerToken: 40_000 }
  it('bounds decode by bytes read per token: weights plus the whole cache', () => {
    assert.equal(decodeRoofline(10e9, cost, 0), 25)
    assert.equal(decodeRoofline(10e9, cost, 10_000), 10e9 / 800e6)
  })
  it('bounds prefill by two FLOP per parameter per token', () => {
    assert.equal(prefillRoofline(100e9, cost), 500)
  })
})

describe('slope', () => {
  it('is the least-squares growth per step, 0 for flat or too-short series', () => {
    assert.equal(slope([0, 1, 2, 3], [5, 7, 9, 11]), 2)
    assert.equal(slope([0, 1, 2], [4, 4, 4]), 0)
    assert.equal(slope([1], [3]), 0)
  })
})

describe('modelCost', () => {
  const smollm = SMOLLM2_135M_CONFIG
  it('counts SmolLM2-135M at its published size and 45 KiB of fp32 KV per token', () => {
    const c = modelCost(smollm, 'fp32')
    assert.ok(Math.abs(c.parameters - 134.5e6) < 0.5e6, String(c.parameters))
    assert.equal(c.weightBytes, c.parameters * 4)
    assert.equal(c.kvBytesPerToken, 46080)
  })
  it('reads the projections and the lm_head at 5 bits a weight at q4 with 32-wide blocks, the table not at all', () => {
    const fp32 = modelCost(smollm, 'fp32')
    const q4 = modelCost(smollm, 'q4')
    assert.equal(q4.parameters, fp32.parameters)
    assert.ok(Math.abs(q4.weightBytes / fp32.weightBytes - 0.625 / 4) < 0.001, String(q4.weightBytes))
  })
  it('reads an untied fp32 head and one row of the table, not the table whole', () => {
    const tied = modelCost(smollm, 'fp32')
    const untied = modelCost({ ...smollm, tie_word_embeddings: false }, 'fp32')
    assert.equal(untied.parameters, tied.parameters + 49152 * 576)
    assert.equal(untied.weightBytes, tied.weightBytes)
  })
})

describe('bestRoofline', () => {
  it('keeps each figure at the higher of two measurements', () => {
    const a = { readBytesPerSecond: 10, ortReadBytesPerSecond: 9, jsReadBytesPerSecond: 10, gemvReadBytesPerSecond: 7, matmulFlopsPerSecond: 50, threads: 2 }
    const b = { readBytesPerSecond: 12, ortReadBytesPerSecond: 12, jsReadBytesPerSecond: 8, gemvReadBytesPerSecond: 11, matmulFlopsPerSecond: 40, threads: 2 }
    assert.deepEqual(bestRoofline(a, b), { ...b, jsReadBytesPerSecond: 10, matmulFlopsPerSecond: 50 })
  })
})
