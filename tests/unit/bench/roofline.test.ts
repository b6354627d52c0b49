import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { modelCost } from '../../../tools/bench/models.ts'
import { bestRoofline, type MatmulWitness, type RooflineFigures } from '../../../tools/bench/roofline.ts'
import { prefillRoofline } from '../../../tools/bench/stats.ts'
import { SMOLLM2_135M_CONFIG } from './shapes.ts'

const SMOLLM = SMOLLM2_135M_CONFIG

describe('the prefill bound', () => {
  it('counts 2 FLOP per projection weight a token, not the embedding table the logits of one position use', () => {
    const cost = modelCost(SMOLLM, 'fp32')
    // 30 layers x (q, k, v, o: 576 x 64 x (9 + 9 + 3 + 3); gate, up, down: 3 x 576 x 1536).
    assert.equal(cost.prefillFlopsPerToken, 2 * 30 * (576 * 64 * 24 + 3 * 576 * 1536))
    assert.equal(prefillRoofline(100e9, cost), 100e9 / cost.prefillFlopsPerToken!)
    assert.equal(modelCost(SMOLLM, 'q4').prefillFlopsPerToken, cost.prefillFlopsPerToken)
  })
})

describe('bestRoofline', () => {
  const witness = (kernel: MatmulWitness['kernel'], m: number, flopsPerSecond: number): MatmulWitness => ({
    kernel,
    m,
    k: 576,
    n: 1536,
    depth: 4,
    threads: 2,
    spinning: true,
    flopsPerSecond,
  })
  const base: RooflineFigures = { readBytesPerSecond: 10, ortReadBytesPerSecond: 9, jsReadBytesPerSecond: 10, gemvReadBytesPerSecond: 7, matmulFlopsPerSecond: 50, threads: 2 }

  it('keeps each witness at its better measurement, the fastest first', () => {
    const a = { ...base, matmulFlopsPerSecond: 50, matmulWitnesses: [witness('Gemm', 128, 50), witness('MatMul', 128, 30)], q4GemvReadBytesPerSecond: 4 }
    const b = { ...base, matmulFlopsPerSecond: 45, matmulWitnesses: [witness('MatMul', 128, 45), witness('Gemm', 128, 40), witness('Gemm', 256, 20)] }
    const best = bestRoofline(a, b)
    assert.equal(best.matmulFlopsPerSecond, 50)
    assert.deepEqual(
      best.matmulWitnesses?.map((w) => [w.kernel, w.m, w.flopsPerSecond]),
      [
        ['Gemm', 128, 50],
        ['MatMul', 128, 45],
        ['Gemm', 256, 20],
      ],
    )
    assert.equal(best.q4GemvReadBytesPerSecond, 4)
  })

  it('keeps the theoretical peak from whichever measurement read it', () => {
    const peak = { cores: 2, ghz: 2, clockFrom: 'cpu MHz' as const, vector: 'avx2' as const, fp32Lanes: 8, fma: true, fmaUnits: 2, flopsPerCycle: 32, flopsPerSecond: 128e9, assumed: '' }
    assert.equal(bestRoofline(base, { ...base, peak }).peak, peak)
    assert.equal('peak' in bestRoofline(base, base), false)
  })
})
