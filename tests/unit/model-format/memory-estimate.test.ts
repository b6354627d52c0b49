// Tests for the one memory estimate the engine's MODEL_TOO_BIG check and the library's fit share.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  estimateMemory,
  kvBytesPerToken,
  kvDtypeOf,
  type EstimateOptions,
  type MemoryEstimate,
  type MemoryShape,
} from '../../../src-main/model-format/memory-estimate.ts'
import type { VariantName } from '../../../src-shared/types.ts'

/** SmolLM2-135M-Instruct's shape: 45 KiB of float32 KV a token. */
const SMOLLM2: MemoryShape = { layers: 30, kvHeads: 3, headDim: 64, vocabSize: 49152 }
const MIB = 2 ** 20
/** Runtime base (300 MiB) plus 10% of the weights, in every row. */
const base = (weights: number): number => 300 * MIB + weights / 10
/** float32 logits of one prefill pass. */
const logits = (tokens: number): number => tokens * SMOLLM2.vocabSize * 4

describe('kvBytesPerToken', () => {
  it('is 2 × layers × kvHeads × headDim × element size', () => {
    assert.equal(kvBytesPerToken(SMOLLM2, 'float32'), 46080)
    assert.equal(kvBytesPerToken(SMOLLM2, 'float16'), 23040)
  })
})

describe('kvDtypeOf', () => {
  it('takes the declared dtype, else float16 for fp16-activation exports and float32 for the rest', () => {
    assert.equal(kvDtypeOf('q4'), 'float32')
    assert.equal(kvDtypeOf('fp16'), 'float16')
    assert.equal(kvDtypeOf('q4f16', null), 'float16')
    assert.equal(kvDtypeOf('q4', 'float16'), 'float16')
    assert.equal(kvDtypeOf('fp16', 'float32'), 'float32')
  })
})

describe('estimateMemory', () => {
  interface Case {
    name: string
    shape?: MemoryShape
    variant: { name: VariantName; bytes: number }
    opts: EstimateOptions
    expected: Omit<MemoryEstimate, 'totalBytes'>
  }
  const q4 = { name: 'q4' as const, bytes: 200e6 }
  const q4f16 = { name: 'q4f16' as const, bytes: 134e6 }
  const cases: Case[] = [
    {
      name: 'holds a float32 cache once and one 256-token chunk of logits',
      variant: q4,
      opts: { context: 4096 },
      expected: { weightsBytes: 200e6, kvBytes: 46080 * 4096, overheadBytes: base(200e6) + logits(256), loadingBytes: 0 },
    },
    {
      name: 'holds a float16 cache for an fp16-activation export',
      variant: q4f16,
      opts: { context: 4096 },
      expected: { weightsBytes: 134e6, kvBytes: 23040 * 4096, overheadBytes: base(134e6) + logits(256), loadingBytes: 0 },
    },
    {
      name: 'follows the dtype config.json declares over the variant\'s',
      shape: { ...SMOLLM2, declaredKvDtype: 'float16' },
      variant: q4,
      opts: { context: 4096 },
      expected: { weightsBytes: 200e6, kvBytes: 23040 * 4096, overheadBytes: base(200e6) + logits(256), loadingBytes: 0 },
    },
    {
      name: 'counts the cache twice on WebGPU, where past and present coexist, and no loading copy',
      variant: q4f16,
      opts: { context: 4096, provider: 'webgpu', onnxFileBytes: 134e6 },
      expected: {
        weightsBytes: 134e6,
        kvBytes: 23040 * 4096,
        overheadBytes: base(134e6) + 23040 * 4096 + logits(256),
        loadingBytes: 0,
      },
    },
    {
      name: 'adds twice the .onnx file while loading on a provider that rewrites the graph',
      variant: q4,
      opts: { context: 4096, provider: 'cpu', onnxFileBytes: 200e6 },
      expected: { weightsBytes: 200e6, kvBytes: 46080 * 4096, overheadBytes: base(200e6) + logits(256) + 400e6, loadingBytes: 400e6 },
    },
    {
      name: 'caps the prefill logits at the context',
      variant: q4,
      opts: { context: 100 },
      expected: { weightsBytes: 200e6, kvBytes: 46080 * 100, overheadBytes: base(200e6) + logits(100), loadingBytes: 0 },
    },
    {
      name: 'sizes the logits by the prefill chunk the load sets',
      variant: q4,
      opts: { context: 4096, chunk: 512 },
      expected: { weightsBytes: 200e6, kvBytes: 46080 * 4096, overheadBytes: base(200e6) + logits(512), loadingBytes: 0 },
    },
  ]
  for (const c of cases) {
    it(c.name, () => {
      const expected = { ...c.expected, totalBytes: c.expected.weightsBytes + c.expected.kvBytes + c.expected.overheadBytes }
      assert.deepEqual(estimateMemory(c.shape ?? SMOLLM2, c.variant, c.opts), expected)
    })
  }

  it('comes to 774 MB for SmolLM2 q4 at 4096 tokens', () => {
    assert.equal(estimateMemory(SMOLLM2, q4, { context: 4096 }).totalBytes, 773_648_128)
  })
})
