// Writes a GGUF (llama architecture) of a Hugging Face model folder, for llama.cpp to run the
// same shape, tokenizer and (when the source provides them) the same weights as the ONNX model.
//
// Weights arrive in PyTorch layout ([out, in] row-major, the transpose of an ONNX MatMul's
// [in, out] initializer); ggml then sees ne = [in, out]. llama.cpp's llama arch applies rope to
// adjacent pairs (2j, 2j+1) while HF Llama/Qwen rotate halves (j, j + headDim/2), so Q and K rows
// (and their biases) are permuted per head exactly as llama.cpp's convert_hf_to_gguf.py does.

import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { readOnnxWeights, type WeightRole, type WeightSource } from './onnx-weights.ts'
import {
  GgmlType,
  quantizeQ4_0,
  tensorBytes,
  writeGguf,
  type GgufLayout,
  type GgufMetadata,
  type GgufTensor,
} from './gguf.ts'
import type { DecoderShape } from '../../src-main/models/onnx-writer/decoder-graph.ts'
import { Rng } from '../model-builder/random.ts'

/** The model builder's decoder shape, plus what a GGUF header needs beyond it. */
export interface LlamaShape extends DecoderShape {
  contextLength: number
  tied: boolean
  /** Qwen2 carries biases on the q, k and v projections. */
  qkvBias: boolean
}

export type GgufPrecision = 'f32' | 'q4_0'

interface TokenizerJson {
  model: { vocab: Record<string, number>; merges: (string | [string, string])[] }
  added_tokens?: { id: number; content: string; special?: boolean }[]
}

/** llama.cpp token types. */
const TOKEN_NORMAL = 1
const TOKEN_CONTROL = 3

/** Reads the shape from config.json; rope theta and rms eps default as in transformers. */
export async function readLlamaShape(modelDir: string): Promise<LlamaShape> {
  const c = JSON.parse(await readFile(path.join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>
  const num = (key: string, fallback?: number): number => {
    const v = c[key]
    if (typeof v === 'number') return v
    if (fallback !== undefined) return fallback
    throw new Error(`config.json lacks ${key}`)
  }
  const hidden = num('hidden_size')
  const heads = num('num_attention_heads')
  return {
    layers: num('num_hidden_layers'),
    hidden,
    heads,
    kvHeads: num('num_key_value_heads', heads),
    headDim: num('head_dim', hidden / heads),
    intermediate: num('intermediate_size'),
    vocab: num('vocab_size'),
    contextLength: num('max_position_embeddings'),
    tied: c.tie_word_embeddings !== false,
    ropeTheta: num('rope_theta', 10000),
    rmsEps: num('rms_norm_eps', 1e-6),
    // Set from the weights: HF Qwen2 has q/k/v biases, but an export may not.
    qkvBias: false,
  }
}

/** Shape of each role in PyTorch layout [out, in] (or [n] for vectors). */
export function roleShape(s: LlamaShape, role: WeightRole): number[] {
  const q = s.heads * s.headDim
  const kv = s.kvHeads * s.headDim
  switch (role) {
    case 'embed':
    case 'lm_head':
      return [s.vocab, s.hidden]
    case 'final_norm':
    case 'attn_norm':
    case 'ffn_norm':
      return [s.hidden]
    case 'q':
      return [q, s.hidden]
    case 'k':
    case 'v':
      return [kv, s.hidden]
    case 'q_bias':
      return [q]
    case 'k_bias':
    case 'v_bias':
      return [kv]
    case 'o':
      return [s.hidden, q]
    case 'gate':
    case 'up':
      return [s.intermediate, s.hidden]
    case 'down':
      return [s.hidden, s.intermediate]
  }
}

/**
 * Reorders the rows of a Q or K projection (or bias) from HF's rotate-half rope to llama.cpp's
 * interleaved rope: within each head, new row 2j + k is old row k * headDim/2 + j.
 */
export function permuteRope(w: Float32Array, nHeads: number, headDim: number): Float32Array {
  const rows = nHeads * headDim
  const cols = w.length / rows
  const half = headDim / 2
  const out = new Float32Array(w.length)
  for (let h = 0; h < nHeads; h++) {
    for (let j = 0; j < half; j++) {
      for (let k = 0; k < 2; k++) {
        const src = (h * headDim + k * half + j) * cols
        const dst = (h * headDim + 2 * j + k) * cols
        out.set(w.subarray(src, src + cols), dst)
      }
    }
  }
  return out
}

/** Seeded stand-in weights of the right shapes: llama.cpp's speed does not depend on values. */
export function seededWeights(s: LlamaShape, seed: number): WeightSource {
  return (role, layer) => {
    const n = roleShape(s, role).reduce((a, b) => a * b, 1)
    if (role.endsWith('norm')) return new Float32Array(n).fill(1)
    let state = seed ^ Math.imul((layer ?? 0) + 1, 0x9e3779b1)
    for (let i = 0; i < role.length; i++) state = Math.imul(state ^ role.charCodeAt(i), 0x01000193)
    return new Rng(state).weights(n, 0.02)
  }
}

function tensor(name: string, shape: number[], precision: GgufPrecision, load: () => Float32Array): GgufTensor {
  const ne = [...shape].reverse()
  const count = shape.reduce((a, b) => a * b, 1)
  // The matrices the ONNX q4 variant runs as MatMulNBits are Q4_0, lm_head (output.weight) too:
  // the embedding table, norms and biases stay f32, so both files read the same bytes per token.
  const matmul = shape.length === 2 && (name.startsWith('blk.') || name === 'output.weight')
  const type = precision === 'q4_0' && matmul ? GgmlType.Q4_0 : GgmlType.F32
  return {
    name,
    ne,
    type,
    byteLength: tensorBytes(type, count),
    data: () => {
      const w = load()
      if (w.length !== count) throw new Error(`${name}: ${w.length} values, expected ${count}`)
      return type === GgmlType.Q4_0 ? quantizeQ4_0(w) : new Uint8Array(w.buffer, w.byteOffset, w.byteLength)
    },
  }
}

/** The tensor table in llama.cpp's names; data is produced lazily from `weights`. */
export function llamaTensors(s: LlamaShape, weights: WeightSource, precision: GgufPrecision): GgufTensor[] {
  const t = (name: string, role: WeightRole, layer: number | null, map?: (w: Float32Array) => Float32Array) =>
    tensor(name, roleShape(s, role), precision, () => (map ? map(weights(role, layer)) : weights(role, layer)))
  const out: GgufTensor[] = [t('token_embd.weight', 'embed', null)]
  for (let i = 0; i < s.layers; i++) {
    const b = `blk.${i}`
    out.push(
      t(`${b}.attn_norm.weight`, 'attn_norm', i),
      t(`${b}.attn_q.weight`, 'q', i, (w) => permuteRope(w, s.heads, s.headDim)),
      t(`${b}.attn_k.weight`, 'k', i, (w) => permuteRope(w, s.kvHeads, s.headDim)),
      t(`${b}.attn_v.weight`, 'v', i),
    )
    if (s.qkvBias) {
      out.push(
        t(`${b}.attn_q.bias`, 'q_bias', i, (w) => permuteRope(w, s.heads, s.headDim)),
        t(`${b}.attn_k.bias`, 'k_bias', i, (w) => permuteRope(w, s.kvHeads, s.headDim)),
        t(`${b}.attn_v.bias`, 'v_bias', i),
      )
    }
    out.push(
      t(`${b}.attn_output.weight`, 'o', i),
      t(`${b}.ffn_norm.weight`, 'ffn_norm', i),
      t(`${b}.ffn_gate.weight`, 'gate', i),
      t(`${b}.ffn_up.weight`, 'up', i),
      t(`${b}.ffn_down.weight`, 'down', i),
    )
  }
  out.push(t('output_norm.weight', 'final_norm', null))
  // Tied embeddings: llama.cpp reuses token_embd for the logits when output.weight is absent. At
  // q4 the head gets its own Q4_0 copy of the table, as the ONNX q4 file has its own MatMulNBits
  // copy ([V, H] rows of 32-wide blocks along H: the same blocks), while token_embd stays f32.
  if (!s.tied) out.push(t('output.weight', 'lm_head', null))
  else if (precision === 'q4_0') out.push(t('output.weight', 'embed', null))
  return out
}

/** Tokenizer metadata: tokens, types, merges and special ids from tokenizer.json. */
export function tokenizerMetadata(tok: TokenizerJson, vocab: number, pre: string): GgufMetadata {
  const tokens = new Array<string>(vocab)
  const types = new Int32Array(vocab).fill(TOKEN_NORMAL)
  for (const [text, id] of Object.entries(tok.model.vocab)) if (id < vocab) tokens[id] = text
  for (const added of tok.added_tokens ?? []) {
    if (added.id >= vocab) continue
    tokens[added.id] = added.content
    if (added.special) types[added.id] = TOKEN_CONTROL
  }
  for (let i = 0; i < vocab; i++) {
    if (tokens[i] === undefined) throw new Error(`tokenizer.json has no token for id ${i} of ${vocab}`)
  }
  const merges = tok.model.merges.map((m) => (typeof m === 'string' ? m : `${m[0]} ${m[1]}`))
  return [
    ['tokenizer.ggml.model', { kind: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { kind: 'string', value: pre }],
    ['tokenizer.ggml.tokens', { kind: 'array', of: 'string', values: tokens as string[] }],
    ['tokenizer.ggml.token_type', { kind: 'array', of: 'int32', values: types }],
    ['tokenizer.ggml.merges', { kind: 'array', of: 'string', values: merges }],
  ]
}

export function llamaMetadata(s: LlamaShape, name: string, precision: GgufPrecision): GgufMetadata {
  const u32 = (value: number) => ({ kind: 'uint32', value }) as const
  const f32 = (value: number) => ({ kind: 'float32', value }) as const
  return [
    ['general.architecture', { kind: 'string', value: 'llama' }],
    ['general.name', { kind: 'string', value: name }],
    // 0: all f32; 2: mostly Q4_0 (llama_ftype).
    ['general.file_type', u32(precision === 'q4_0' ? 2 : 0)],
    ['general.alignment', u32(32)],
    ['llama.context_length', u32(s.contextLength)],
    ['llama.embedding_length', u32(s.hidden)],
    ['llama.block_count', u32(s.layers)],
    ['llama.feed_forward_length', u32(s.intermediate)],
    ['llama.attention.head_count', u32(s.heads)],
    ['llama.attention.head_count_kv', u32(s.kvHeads)],
    ['llama.attention.key_length', u32(s.headDim)],
    ['llama.attention.value_length', u32(s.headDim)],
    ['llama.rope.dimension_count', u32(s.headDim)],
    ['llama.rope.freq_base', f32(s.ropeTheta)],
    ['llama.attention.layer_norm_rms_epsilon', f32(s.rmsEps)],
    ['llama.vocab_size', u32(s.vocab)],
  ]
}

export interface LlamaGgufOptions {
  precision: GgufPrecision
  /** tokenizer.ggml.pre: llama.cpp's pre-tokenizer name. */
  pre?: string
}

export interface LlamaGgufResult extends GgufLayout {
  /** 'onnx': the fp32 ONNX file's own weights; 'seeded': stand-ins of the same shapes. */
  weights: 'onnx' | 'seeded'
}

/**
 * Writes `outFile` from the model folder's config.json and tokenizer files, with the weights of
 * its onnx/model.onnx (fp32) when present, else seeded weights of the same shapes.
 */
export async function writeLlamaGguf(modelDir: string, outFile: string, opts: LlamaGgufOptions): Promise<LlamaGgufResult> {
  const shape = await readLlamaShape(modelDir)
  const onnxFile = path.join(modelDir, 'onnx', 'model.onnx')
  const onnx = existsSync(onnxFile) ? readOnnxWeights(onnxFile) : null
  if (onnx) {
    shape.qkvBias = onnx.hasQkvBias
    shape.tied = !onnx.hasLmHead
  }
  const tok = JSON.parse(await readFile(path.join(modelDir, 'tokenizer.json'), 'utf8')) as TokenizerJson
  const tokConfig = JSON.parse(await readFile(path.join(modelDir, 'tokenizer_config.json'), 'utf8')) as Record<
    string,
    unknown
  >
  const idOf = (key: string): number | null => {
    const text = tokConfig[key]
    if (typeof text !== 'string') return null
    return tok.model.vocab[text] ?? tok.added_tokens?.find((t) => t.content === text)?.id ?? null
  }
  const specials: GgufMetadata = []
  const ids: [string, string][] = [
    ['bos_token', 'tokenizer.ggml.bos_token_id'],
    ['eos_token', 'tokenizer.ggml.eos_token_id'],
    ['pad_token', 'tokenizer.ggml.padding_token_id'],
  ]
  for (const [key, gguf] of ids) {
    const id = idOf(key)
    if (id !== null) specials.push([gguf, { kind: 'uint32', value: id }])
  }
  if (typeof tokConfig.chat_template === 'string') {
    specials.push(['tokenizer.chat_template', { kind: 'string', value: tokConfig.chat_template }])
  }
  const metadata = [
    ...llamaMetadata(shape, path.basename(modelDir), opts.precision),
    ...tokenizerMetadata(tok, shape.vocab, opts.pre ?? 'default'),
    ...specials,
  ]
  const tensors = llamaTensors(shape, onnx?.source ?? seededWeights(shape, 1), opts.precision)
  return { ...(await writeGguf(outFile, metadata, tensors)), weights: onnx ? 'onnx' : 'seeded' }
}
