// Tests for the fit verdicts, the largest context that fits, and which variant is chosen.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { MemoryBudget } from '../../../src-shared/types.ts'
import { estimateMemory } from '../../../src-main/model-format/memory-estimate.ts'
import { fitModel, fitVariant, type ModelShape } from '../../../src-main/models/hardware-fit.ts'

/** SmolLM2-135M-Instruct's shape and its variant sizes on the Hub. */
const SMOLLM2: ModelShape = { layers: 30, kvHeads: 3, headDim: 64, vocabSize: 49152, contextLength: 8192 }
const VARIANTS = [
  { name: 'fp32' as const, bytes: 654e6 },
  { name: 'q4' as const, bytes: 200e6 },
  { name: 'q4f16' as const, bytes: 134e6 },
]
const ram = (availableRam: number, totalRam = 2 * availableRam): MemoryBudget => ({ totalRam, availableRam, gpuMemory: null })

describe('fitVariant', () => {
  it('reports the shared estimate for a provider that updates the cache in place', () => {
    const q4 = { ...VARIANTS[1]!, onnxFileBytes: 200e6 }
    const estimate = estimateMemory(SMOLLM2, q4, { context: 4096, provider: 'cpu', onnxFileBytes: 200e6 })
    const fit = fitVariant(SMOLLM2, q4, 4096, ram(8e9))
    assert.deepEqual(
      [fit.weightsBytes, fit.kvBytes, fit.overheadBytes, fit.totalBytes],
      [estimate.weightsBytes, estimate.kvBytes, estimate.overheadBytes, estimate.totalBytes],
    )
  })

  it('says fits within 80% of available RAM, tight up to what closing apps could free, else won\'t fit', () => {
    const q4 = VARIANTS[1]!
    const total = estimateMemory(SMOLLM2, q4, { context: 4096 }).totalBytes
    assert.equal(fitVariant(SMOLLM2, q4, 4096, ram(total / 0.8)).verdict, 'fits')
    assert.equal(fitVariant(SMOLLM2, q4, 4096, ram(total / 0.8 - 1)).verdict, 'tight')
    assert.equal(fitVariant(SMOLLM2, q4, 4096, ram(total / 2, total / 0.9)).verdict, 'tight', 'up to 90% of total RAM')
    assert.equal(fitVariant(SMOLLM2, q4, 4096, ram(total / 2, total / 0.9 - 1)).verdict, 'wont-fit')
  })

  it('gives the largest context that fits, capped at the model\'s own', () => {
    const q4 = VARIANTS[1]!
    const budget = ram(1.2e9)
    const { maxContext } = fitVariant(SMOLLM2, q4, 1024, budget)
    assert.ok(maxContext > 1024 && maxContext < SMOLLM2.contextLength, String(maxContext))
    assert.equal(fitVariant(SMOLLM2, q4, maxContext, budget).verdict, 'fits')
    assert.notEqual(fitVariant(SMOLLM2, q4, maxContext + 256, budget).verdict, 'fits')
    assert.equal(fitVariant(SMOLLM2, q4, 1024, ram(64e9)).maxContext, SMOLLM2.contextLength)
    assert.equal(fitVariant(SMOLLM2, q4, 1024, ram(100e6)).maxContext, 0)
  })

  it('measures against GPU memory when it is known', () => {
    const estimate = fitVariant(SMOLLM2, VARIANTS[0]!, 8192, { totalRam: 1e9, availableRam: 0.5e9, gpuMemory: 24e9 })
    assert.equal(estimate.device, 'gpu')
    assert.equal(estimate.verdict, 'fits')
  })

  it('leaves what loading holds in RAM out of a fit against GPU memory', () => {
    const fp32 = { ...VARIANTS[0]!, onnxFileBytes: 654e6 }
    const inPlace = estimateMemory(SMOLLM2, fp32, { context: 4096 })
    const gpuMemory = inPlace.totalBytes / 0.85
    const budget = { totalRam: 1e9, availableRam: 0.5e9, gpuMemory }
    const onGpu = fitVariant(SMOLLM2, fp32, 4096, budget)
    assert.equal(onGpu.totalBytes, inPlace.totalBytes)
    assert.equal(onGpu.verdict, 'fits')
    assert.equal(onGpu.maxContext, fitVariant(SMOLLM2, VARIANTS[0]!, 4096, budget).maxContext)
    // In RAM it still counts.
    assert.equal(fitVariant(SMOLLM2, fp32, 4096, ram(8e9)).totalBytes, inPlace.totalBytes + 2 * 654e6)
  })
})

describe('fitModel', () => {
  it('prefers q4 on the CPU when it fits, and a smaller variant when only that fits', () => {
    assert.equal(fitModel({ shape: SMOLLM2, variants: VARIANTS, context: 2048, budget: ram(8e9) }).chosen.variant, 'q4')

    const q4f16Only = estimateMemory(SMOLLM2, VARIANTS[2]!, { context: 2048 }).totalBytes / 0.8
    const report = fitModel({ shape: SMOLLM2, variants: VARIANTS, context: 2048, budget: ram(q4f16Only) })
    assert.equal(report.chosen.variant, 'q4f16')
    assert.equal(report.chosen.verdict, 'fits')
    assert.notEqual(report.variants.find((v) => v.variant === 'q4')?.verdict, 'fits')
    assert.equal(report.variants.at(-1)?.variant, 'fp32')
  })

  it('orders variants that do not fit smallest first, and judges the variant asked for', () => {
    const report = fitModel({ shape: SMOLLM2, variants: VARIANTS, context: 8192, budget: ram(50e6, 100e6) })
    assert.deepEqual(report.variants.map((v) => v.variant), ['q4f16', 'q4', 'fp32'])
    const asked = fitModel({ shape: SMOLLM2, variants: VARIANTS, context: 2048, budget: ram(8e9), variant: 'fp32' })
    assert.equal(asked.chosen.variant, 'fp32')
    assert.throws(() => fitModel({ shape: SMOLLM2, variants: VARIANTS, context: 2048, budget: ram(8e9), variant: 'bnb4' }), {
      code: 'NOT_FOUND',
    })
  })

  it('prefers fp16 kinds on a GPU', () => {
    const gpu = { totalRam: 16e9, availableRam: 8e9, gpuMemory: 8e9 }
    assert.equal(fitModel({ shape: SMOLLM2, variants: VARIANTS, context: 2048, budget: gpu }).chosen.variant, 'q4f16')
  })
})
