// What a GGUF's metadata and tensor table must say before a conversion starts: the architecture
// by name, every hyperparameter, and tensors shaped as the metadata implies.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AppError } from '../../../../src-shared/errors.ts'
import { describeModel, expectedTensors } from '../../../../src-main/models/gguf/architecture.ts'
import { GgmlType, type GgufHeader, type GgufTensorInfo, type GgufValue } from '../../../../src-main/models/gguf/gguf-types.ts'

/** A header for a 2-layer model of the given architecture, every tensor where the metadata puts it. */
function header(arch: string, overrides: Record<string, GgufValue> = {}, extra: Partial<Record<string, number[]>> = {}): GgufHeader {
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', arch],
    [`${arch}.block_count`, 2],
    [`${arch}.embedding_length`, 64],
    [`${arch}.feed_forward_length`, 128],
    [`${arch}.attention.head_count`, 4],
    [`${arch}.attention.head_count_kv`, 2],
    [`${arch}.context_length`, 256],
    [`${arch}.rope.freq_base`, 500000],
    [`${arch}.attention.layer_norm_rms_epsilon`, 1e-6],
    ['tokenizer.ggml.tokens', Array.from({ length: 100 }, (_, i) => `t${i}`)],
  ])
  for (const [k, v] of Object.entries(overrides)) metadata.set(k, v)
  const model = { layers: 2, hidden: 64, intermediate: 128, heads: 4, kvHeads: 2, headDim: 16, vocab: 100, tied: true, fused: arch === 'phi3', qkvBias: false }
  const shapes = new Map(expectedTensors(model as Parameters<typeof expectedTensors>[0]))
  for (const [name, ne] of Object.entries(extra)) shapes.set(name, ne!)
  let offset = 0
  const tensors: GgufTensorInfo[] = [...shapes].map(([name, ne]) => {
    const byteLength = 4 * ne.reduce((a, b) => a * b, 1)
    const info = { name, ne, type: GgmlType.F32, offset, byteLength }
    offset += byteLength
    return info
  })
  return { version: 3, metadata, tensors, alignment: 32 }
}

const refused = (code: string, pattern: RegExp) => (err: unknown) => err instanceof AppError && err.code === code && pattern.test(err.message)

describe('describeModel', () => {
  it('reads every hyperparameter from the metadata, llama defaults where a key is absent', () => {
    const m = describeModel(header('llama'), 'a.gguf')
    assert.deepEqual(
      { layers: m.layers, hidden: m.hidden, heads: m.heads, kvHeads: m.kvHeads, headDim: m.headDim, vocab: m.vocab, context: m.contextLength, theta: m.ropeTheta, eps: m.rmsEps },
      { layers: 2, hidden: 64, heads: 4, kvHeads: 2, headDim: 16, vocab: 100, context: 256, theta: 500000, eps: 1e-6 },
    )
    assert.equal(m.tied, true)
    assert.equal(m.unpermuteQk, true, "llama.cpp permutes llama's q/k rows for its pairwise rope")
    assert.equal(describeModel(header('qwen2'), 'q.gguf').unpermuteQk, false, 'qwen2 rotates halves as transformers does')
    const noTheta = header('llama')
    noTheta.metadata.delete('llama.rope.freq_base')
    assert.equal(describeModel(noTheta, 'a.gguf').ropeTheta, 10000)
  })

  it('refuses an architecture it cannot write, naming it', () => {
    assert.throws(() => describeModel(header('gemma2'), 'g.gguf'), refused('MODEL_UNSUPPORTED', /"gemma2" architecture/))
  })

  it('refuses a file whose metadata lacks a hyperparameter, naming the key', () => {
    const h = header('llama')
    h.metadata.delete('llama.block_count')
    assert.throws(() => describeModel(h, 'a.gguf'), refused('IMPORT_INVALID', /llama\.block_count/))
  })

  it('refuses a tensor shaped otherwise than the metadata says, or missing', () => {
    assert.throws(
      () => describeModel(header('llama', {}, { 'blk.1.attn_k.weight': [64, 48] }), 'a.gguf'),
      refused('IMPORT_INVALID', /blk\.1\.attn_k\.weight is \[64, 48\], but the metadata makes it \[64, 32\]/),
    )
    const h = header('llama')
    h.tensors = h.tensors.filter((t) => t.name !== 'blk.0.ffn_down.weight')
    assert.throws(() => describeModel(h, 'a.gguf'), refused('IMPORT_INVALID', /blk\.0\.ffn_down\.weight is missing/))
  })

  it('refuses heads that do not divide the width, partial rotary and rope scalings it cannot write', () => {
    assert.throws(() => describeModel(header('llama', { 'llama.attention.head_count_kv': 3 }), 'a.gguf'), refused('IMPORT_INVALID', /do not fit/))
    assert.throws(() => describeModel(header('llama', { 'llama.rope.dimension_count': 8 }), 'a.gguf'), refused('MODEL_UNSUPPORTED', /8 of 16/))
    assert.throws(() => describeModel(header('llama', { 'llama.rope.scaling.type': 'yarn', 'llama.rope.scaling.factor': 4 }), 'a.gguf'), refused('MODEL_UNSUPPORTED', /"yarn"/))
    const linear = describeModel(header('llama', { 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': 2 }), 'a.gguf')
    assert.deepEqual(linear.ropeScaling, { type: 'linear', factor: 2 })
  })

  it("takes phi3's fused qkv and gate-up tensors, and an untied head when output.weight is there", () => {
    const m = describeModel(header('phi3', {}, { 'output.weight': [64, 100] }), 'p.gguf')
    assert.equal(m.fused, true)
    assert.equal(m.tied, false)
  })
})
