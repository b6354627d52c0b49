import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { GgmlType } from '../../../src-main/models/gguf/gguf-types.ts'
import { quantizeQ4_0 } from '../../../tools/bench/gguf.ts'
import { readGgufHeader } from '../../../src-main/models/gguf/reader.ts'
import {
  llamaTensors,
  permuteRope,
  roleShape,
  seededWeights,
  tokenizerMetadata,
  writeLlamaGguf,
  type LlamaShape,
} from '../../../tools/bench/llama-gguf.ts'
import { transpose } from '../../../tools/bench/onnx-weights.ts'

const SHAPE: LlamaShape = {
  layers: 2,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  headDim: 16,
  intermediate: 96,
  vocab: 300,
  contextLength: 512,
  tied: true,
  ropeTheta: 10000,
  rmsEps: 1e-5,
  qkvBias: false,
}

describe('permuteRope', () => {
  it('moves row k * headDim/2 + j of each head to row 2j + k, carrying whole rows', () => {
    const heads = 2
    const headDim = 4
    const cols = 3
    const w = Float32Array.from({ length: heads * headDim * cols }, (_, i) => i)
    const out = permuteRope(w, heads, headDim)
    const row = (a: Float32Array, r: number) => Array.from(a.subarray(r * cols, (r + 1) * cols))
    // Head 0: old rows [0, 1 | 2, 3] (halves) become [0, 2, 1, 3] (pairs).
    assert.deepEqual([0, 1, 2, 3].map((r) => row(out, r)), [0, 2, 1, 3].map((r) => row(w, r)))
    assert.deepEqual([4, 5, 6, 7].map((r) => row(out, r)), [4, 6, 5, 7].map((r) => row(w, r)))
  })
})

describe('transpose', () => {
  it('turns an ONNX [in, out] MatMul weight into PyTorch [out, in]', () => {
    const w = Float32Array.of(1, 2, 3, 4, 5, 6) // [2, 3]
    assert.deepEqual(Array.from(transpose(w, 2, 3)), [1, 4, 2, 5, 3, 6])
  })
})

describe('llamaTensors', () => {
  it('names and shapes every tensor as llama.cpp expects, without output.weight when tied', () => {
    const tensors = llamaTensors(SHAPE, seededWeights(SHAPE, 1), 'f32')
    const byName = new Map(tensors.map((t) => [t.name, t]))
    assert.deepEqual(byName.get('token_embd.weight')?.ne, [64, 300])
    assert.deepEqual(byName.get('blk.1.attn_q.weight')?.ne, [64, 64])
    assert.deepEqual(byName.get('blk.1.attn_k.weight')?.ne, [64, 32])
    assert.deepEqual(byName.get('blk.0.ffn_down.weight')?.ne, [96, 64])
    assert.deepEqual(byName.get('blk.0.ffn_gate.weight')?.ne, [64, 96])
    assert.equal(byName.has('output.weight'), false)
    assert.equal(byName.has('blk.0.attn_q.bias'), false)
    assert.equal(tensors.length, 1 + 2 * 9 + 1)
  })

  it('adds q/k/v biases and an untied output when the shape says so', () => {
    const names = llamaTensors({ ...SHAPE, tied: false, qkvBias: true }, seededWeights(SHAPE, 1), 'f32').map((t) => t.name)
    assert.ok(names.includes('output.weight'))
    assert.ok(names.includes('blk.1.attn_k.bias'))
  })

  it('quantizes the projections and the head, leaving the embedding and norms f32', () => {
    const source = seededWeights(SHAPE, 1)
    const tensors = llamaTensors(SHAPE, source, 'q4_0')
    const byName = new Map(tensors.map((t) => [t.name, t]))
    const type = (name: string) => byName.get(name)?.type
    assert.equal(type('blk.0.attn_v.weight'), GgmlType.Q4_0)
    assert.equal(type('token_embd.weight'), GgmlType.F32)
    assert.equal(type('blk.0.attn_norm.weight'), GgmlType.F32)
    const up = byName.get('blk.0.ffn_up.weight')!
    assert.equal(up.data().byteLength, up.byteLength)
    // Tied: the head is its own Q4_0 copy of the embedding table, as the ONNX q4 file's MatMulNBits is.
    const head = byName.get('output.weight')!
    assert.equal(head.type, GgmlType.Q4_0)
    assert.deepEqual(head.ne, [64, 300])
    assert.deepEqual(head.data(), quantizeQ4_0(source('embed', null)))
    assert.equal(tensors.length, 1 + 2 * 9 + 2)
  })

  it('permutes the Q weight it is given', () => {
    const source = seededWeights(SHAPE, 3)
    const q = llamaTensors(SHAPE, source, 'f32').find((t) => t.name === 'blk.0.attn_q.weight')!
    const written = new Float32Array(q.data().slice().buffer)
    assert.deepEqual(written, permuteRope(source('q', 0), SHAPE.heads, SHAPE.headDim))
    assert.deepEqual(roleShape(SHAPE, 'q'), [64, 64])
  })
})

describe('tokenizerMetadata', () => {
  it('lists every id in order, marks special added tokens as control, and joins pair merges', () => {
    const meta = new Map(
      tokenizerMetadata(
        {
          model: { vocab: { a: 1, b: 2, ab: 3 }, merges: [['a', 'b']] },
          added_tokens: [{ id: 0, content: '<|endoftext|>', special: true }],
        },
        4,
        'smollm',
      ),
    )
    const tokens = meta.get('tokenizer.ggml.tokens')
    const types = meta.get('tokenizer.ggml.token_type')
    assert.deepEqual(tokens?.kind === 'array' && Array.from<string | number>(tokens.values), ['<|endoftext|>', 'a', 'b', 'ab'])
    assert.deepEqual(types?.kind === 'array' && Array.from<string | number>(types.values), [3, 1, 1, 1])
    const merges = meta.get('tokenizer.ggml.merges')
    assert.deepEqual(merges?.kind === 'array' && merges.values, ['a b'])
    assert.deepEqual(meta.get('tokenizer.ggml.pre'), { kind: 'string', value: 'smollm' })
  })

  it('refuses a vocabulary with a gap', () => {
    assert.throws(() => tokenizerMetadata({ model: { vocab: { a: 0, c: 2 }, merges: [] } }, 3, 'default'), /no token for id 1/)
  })
})

describe('writeLlamaGguf', () => {
  it('writes config shapes and special ids from a model folder without ONNX weights (seeded)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hearth-llama-gguf-'))
    try {
      const vocab: Record<string, number> = { '<|im_start|>': 0, '<|im_end|>': 1 }
      for (let i = 2; i < SHAPE.vocab; i++) vocab[`t${i}`] = i
      await writeFile(
        path.join(dir, 'config.json'),
        JSON.stringify({
          model_type: 'llama',
          hidden_size: 64,
          num_attention_heads: 4,
          num_key_value_heads: 2,
          num_hidden_layers: 2,
          intermediate_size: 96,
          vocab_size: SHAPE.vocab,
          max_position_embeddings: 512,
          rope_theta: 100000,
          rms_norm_eps: 1e-5,
        }),
      )
      await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify({ model: { vocab, merges: [] } }))
      await writeFile(
        path.join(dir, 'tokenizer_config.json'),
        JSON.stringify({ bos_token: '<|im_start|>', eos_token: '<|im_end|>', chat_template: '{{ x }}' }),
      )
      const file = path.join(dir, 'm.gguf')
      const result = await writeLlamaGguf(dir, file, { precision: 'f32' })
      assert.equal(result.weights, 'seeded')
      const read = await readGgufHeader(file)
      assert.equal(read.metadata.get('llama.block_count'), 2)
      assert.equal(read.metadata.get('llama.attention.head_count_kv'), 2)
      assert.equal(read.metadata.get('llama.rope.freq_base'), 100000)
      assert.equal(read.metadata.get('tokenizer.ggml.eos_token_id'), 1)
      assert.equal(read.metadata.get('tokenizer.chat_template'), '{{ x }}')
      assert.equal(read.tensors.length, 20)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
