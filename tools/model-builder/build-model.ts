// Builds a random-weight test model in the Hugging Face ONNX layout (config, tokenizer, onnx/).

import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Tokenizer } from '@huggingface/tokenizers'
import { byteLevelAlphabet } from '../../src-main/engine/tokenizer.ts'
import { writeDecoder, type DecoderShape, type DecoderSignature } from '../../src-main/models/onnx-writer/decoder-graph.ts'
import { FINAL_NORM_SCALE, RandomWeights } from './random-weights.ts'
import { buildTokenizerFiles } from './tokenizer.ts'

export type ShapeName = 'tiny' | 'smollm2-135m' | 'qwen2.5-0.5b'

export interface BuildOptions {
  shape: ShapeName
  layers: number
  hidden: number
  heads: number
  kvHeads: number
  /** hidden / heads unless set. */
  headDim: number | null
  intermediate: number
  vocab: number
  contextLength: number
  ropeTheta: number
  /** cos and sin scaled by this (transformers' attention_scaling), with exportedRope. */
  ropeScaling: number
  rmsEps: number
  kv: 'float32' | 'float16'
  ids: 'int64' | 'int32'
  positionIds: boolean
  logitsToKeep: boolean
  /** Also write onnx/model_q4.onnx with int4 MatMulNBits projections. */
  q4: boolean
  q4BlockSize: number
  /** Reproduce exports that fail on several new tokens over a non-empty cache (tests the probe). */
  singleTokenPass: boolean
  /** Build a causal mask that ignores attention_mask, as some real exports do (tests the in-place check). */
  maskIgnored: boolean
  /** Attention through repeat_kv (Expand of every KV head), as Optimum's eager exports write it. */
  repeatKv: boolean
  /** RMSNorm as torch exports it (Pow, ReduceMean, Add, Sqrt, Div, Mul): onnxruntime fuses it. */
  exportedRmsNorm: boolean
  /**
   * RoPE as transformers exports it: rotate_half by two Slices, cos and sin scaled by
   * attention_scaling and cast, unsqueezed in every layer. Off: a Split, tables shared as they are.
   */
  exportedRope: boolean
  /**
   * RoPE tables as transformers 4.35-4.37 export them: cos_cached, sin_cached initializers
   * [contextLength, D] whose rows are gathered by position_ids. Off: computed in the graph.
   */
  cachedRope: boolean
  /** The default domain's opset the graph is written for (17 or 18). */
  opset: 17 | 18
  /** Constants as Constant nodes right before their readers, as torch.onnx exports place them. */
  inlineConstants: boolean
  /** The mask added to each layer's scores as a float mask made once, as Llama exports do; off: a Where per layer. */
  additiveMask: boolean
  /** Never end a reply by itself (special tokens out of reach): replies run to max tokens or a stop. */
  endless: boolean
  seed: number
}

type ShapeFields = Pick<
  BuildOptions,
  'layers' | 'hidden' | 'heads' | 'kvHeads' | 'intermediate' | 'vocab' | 'contextLength' | 'ropeTheta'
> & { modelType: string }

/** The real models' shapes (config.json of each), for benchmarks; 'tiny' builds in milliseconds. */
export const SHAPES: Record<ShapeName, ShapeFields> = {
  tiny: {
    modelType: 'llama', layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128,
    vocab: 512, contextLength: 2048, ropeTheta: 10000,
  },
  'smollm2-135m': {
    modelType: 'llama', layers: 30, hidden: 576, heads: 9, kvHeads: 3, intermediate: 1536,
    vocab: 49152, contextLength: 8192, ropeTheta: 100000,
  },
  'qwen2.5-0.5b': {
    modelType: 'qwen2', layers: 24, hidden: 896, heads: 14, kvHeads: 2, intermediate: 4864,
    vocab: 151936, contextLength: 32768, ropeTheta: 1000000,
  },
}

export function resolveOptions(opts: Partial<BuildOptions>): BuildOptions {
  const shape = SHAPES[opts.shape ?? 'tiny']
  return {
    shape: opts.shape ?? 'tiny',
    layers: shape.layers,
    hidden: shape.hidden,
    heads: shape.heads,
    kvHeads: shape.kvHeads,
    headDim: null,
    intermediate: shape.intermediate,
    vocab: shape.vocab,
    contextLength: shape.contextLength,
    ropeTheta: shape.ropeTheta,
    rmsEps: 1e-5,
    kv: 'float32',
    ids: 'int64',
    positionIds: true,
    logitsToKeep: false,
    q4: false,
    q4BlockSize: 32,
    singleTokenPass: false,
    maskIgnored: false,
    repeatKv: false,
    exportedRmsNorm: false,
    exportedRope: false,
    cachedRope: false,
    opset: 17,
    inlineConstants: false,
    additiveMask: false,
    ropeScaling: 1,
    endless: false,
    seed: 42,
    ...stripUndefined(opts),
  }
}

/** Writes the model folder `dir` (created if needed). Same options and seed, same bytes. */
export async function buildModel(dir: string, opts: Partial<BuildOptions> = {}): Promise<void> {
  const o = resolveOptions(opts)
  const headDim = o.headDim ?? o.hidden / o.heads
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new Error(`hidden ${o.hidden} / heads ${o.heads} must be an even integer head size`)
  }
  if (o.heads % o.kvHeads !== 0) throw new Error(`heads ${o.heads} must be a multiple of kv-heads ${o.kvHeads}`)
  if (o.q4 && (o.hidden % o.q4BlockSize !== 0 || o.intermediate % o.q4BlockSize !== 0)) {
    throw new Error(`--q4 needs hidden and intermediate to be multiples of ${o.q4BlockSize}`)
  }

  await mkdir(path.join(dir, 'onnx'), { recursive: true })
  const tokenizer = buildTokenizerFiles({ vocabSize: o.vocab, seed: o.seed })
  const { bos, eos, pad } = tokenizer.specialTokens
  const files: string[] = ['model.onnx', ...(o.q4 ? ['model_q4.onnx'] : [])]
  const config = {
    architectures: [o.shape === 'qwen2.5-0.5b' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: SHAPES[o.shape].modelType,
    hidden_size: o.hidden,
    intermediate_size: o.intermediate,
    num_attention_heads: o.heads,
    num_hidden_layers: o.layers,
    num_key_value_heads: o.kvHeads,
    head_dim: headDim,
    vocab_size: o.vocab,
    max_position_embeddings: o.contextLength,
    rms_norm_eps: o.rmsEps,
    rope_theta: o.ropeTheta,
    tie_word_embeddings: true,
    bos_token_id: bos,
    eos_token_id: eos,
    pad_token_id: pad,
    torch_dtype: 'float32',
    'transformers.js_config': {
      use_external_data_format: Object.fromEntries(files.map((f) => [f, 1])),
      ...(o.kv === 'float16' ? { kv_cache_dtype: 'float16' } : {}),
    },
  }
  const write = (name: string, value: object): Promise<void> =>
    writeFile(path.join(dir, name), `${JSON.stringify(value, null, 2)}\n`)
  await write('config.json', config)
  await write('generation_config.json', { bos_token_id: bos, eos_token_id: [eos], pad_token_id: pad })
  await write('tokenizer.json', tokenizer.tokenizerJson)
  await write('tokenizer_config.json', tokenizer.tokenizerConfig)

  const shape: DecoderShape = {
    layers: o.layers,
    hidden: o.hidden,
    heads: o.heads,
    kvHeads: o.kvHeads,
    headDim,
    intermediate: o.intermediate,
    vocab: o.vocab,
    ropeTheta: o.ropeTheta,
    ropeAttentionFactor: o.ropeScaling,
    rmsEps: o.rmsEps,
  }
  const signature: DecoderSignature = {
    kv: o.kv,
    ids: o.ids,
    positionIds: o.positionIds,
    logitsToKeep: o.logitsToKeep,
    singleTokenPass: o.singleTokenPass,
    maskIgnored: o.maskIgnored,
    repeatKv: o.repeatKv,
    exportedRmsNorm: o.exportedRmsNorm,
    exportedRope: o.exportedRope,
    cachedRopeRows: o.cachedRope ? o.contextLength : 0,
    opset: o.opset,
    inlineConstants: o.inlineConstants,
    additiveMask: o.additiveMask,
  }
  const onnxDir = path.join(dir, 'onnx')
  // Three standard deviations of the logits below the rest.
  const penalty = 3 * FINAL_NORM_SCALE * Math.sqrt(o.hidden)
  const logitBias = textBias(tokenizer.tokenizerJson, tokenizer.tokenizerConfig, o.vocab, penalty)
  if (o.endless) for (const id of new Set(Object.values(tokenizer.specialTokens))) logitBias[id] = -1e4
  const writeOnnx = (file: string, format: 'fp32' | 'q4'): void => {
    const weights = new RandomWeights({ seed: o.seed, format, q4BlockSize: o.q4BlockSize })
    writeDecoder(onnxDir, file, shape, weights, { signature, logitBias, producer: 'hearth-model-builder' })
  }
  writeOnnx('model.onnx', 'fp32')
  if (o.q4) writeOnnx('model_q4.onnx', 'q4')
}

/**
 * -penalty on the logits of tokens a real model rarely writes: those that are not whole printable text on
 * their own (lone UTF-8 bytes, control characters, special tokens) and those the tokenizer would
 * never produce for their own text (non-canonical merges). A random model then writes text that
 * re-tokenizes as it was generated, as a real model's replies mostly do, so reply tokens can be
 * reused from the cache on the next turn. The penalised tokens stay possible, just unlikely.
 */
function textBias(tokenizerJson: object, tokenizerConfig: object, vocab: number, penalty: number): Float32Array {
  const bias = new Float32Array(vocab).fill(-penalty)
  const model = (tokenizerJson as { model?: { vocab?: Record<string, number> } }).model
  const tokenizer = new Tokenizer(tokenizerJson as Record<string, unknown>, tokenizerConfig as Record<string, unknown>)
  const byteOf = new Map(byteLevelAlphabet().map((ch, b) => [ch, b]))
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  for (const [token, id] of Object.entries(model?.vocab ?? {})) {
    const chars = Array.from(token)
    if (id >= vocab || !chars.every((ch) => byteOf.has(ch))) continue
    let text: string
    try {
      text = utf8.decode(Uint8Array.from(chars, (ch) => byteOf.get(ch) as number))
    } catch {
      continue // not valid UTF-8 on its own
    }
    if (!/^[^\p{C}]+$/u.test(text) && text !== '\n') continue
    const ids = tokenizer.encode(text, { add_special_tokens: false }).ids
    if (ids.length === 1 && ids[0] === id) bias[id] = 0
  }
  return bias
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>
}
