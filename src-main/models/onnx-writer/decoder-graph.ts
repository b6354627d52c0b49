// A Llama-style decoder (RMSNorm, RoPE, grouped KV heads, SwiGLU; Qwen2's q/k/v biases; a tied
// Gemm or an untied MatMul lm_head) as an ONNX graph with the Optimum / transformers.js
// signature, its weights from a DecoderWeightSource: the model builder's seeded generator, or a
// GGUF file.

import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { GraphBuilder } from './graph-builder.ts'
import { ropeCache, ropeInvFreq, type RopeScaling } from './rope.ts'
import type { DecoderWeightSource } from './weights.ts'
import { project, sized } from './weight-nodes.ts'

export interface DecoderShape {
  layers: number
  hidden: number
  heads: number
  kvHeads: number
  headDim: number
  intermediate: number
  vocab: number
  ropeTheta: number
  /** How the rope's frequencies are scaled for a longer context; none when absent. */
  ropeScaling?: RopeScaling | null
  /** transformers' attention_scaling: cos and sin are multiplied by it (1 but for longrope, yarn). */
  ropeAttentionFactor?: number
  rmsEps: number
  /** Biases on the q, k and v projections (Qwen2's …q_proj.bias), each added after its MatMul. */
  qkvBias?: boolean
}

export interface DecoderSignature {
  kv: 'float32' | 'float16'
  ids: 'int64' | 'int32'
  positionIds: boolean
  logitsToKeep: boolean
  /**
   * A quirk of some real exports, reproduced for tests: the graph fails when several new tokens
   * come on top of a non-empty cache (an Expand of [seq] to [past + seq]).
   */
  singleTokenPass: boolean
  /**
   * Another quirk of real exports, reproduced for tests: the causal mask ignores attention_mask
   * (still declared, so the signature is unchanged). Right when every position is real, wrong
   * over a cache with masked spare positions: the in-place rewrite must notice it at load.
   */
  maskIgnored: boolean
  /**
   * Attention as Optimum's eager Llama export writes it: repeat_kv copies every KV head for its
   * query heads (Unsqueeze, Expand, Reshape, shapes read from the tensor), then 4-D attention.
   * Off: the grouped heads broadcast instead (q [B, kv, rep, S, D] against k [B, kv, 1, T, D]).
   */
  repeatKv: boolean
  /**
   * RMSNorm as torch exports LlamaRMSNorm: Pow(x, 2) -> ReduceMean -> Add -> Sqrt -> Div(x, .)
   * -> Mul(weight), the pattern onnxruntime fuses into one SimplifiedLayerNormalization kernel.
   * Off: x * x and a Reciprocal, which it runs as six kernels.
   */
  exportedRmsNorm: boolean
  /**
   * RoPE as transformers' LlamaRotaryEmbedding and apply_rotary_pos_emb export: cos and sin of
   * Concat(freqs, freqs) times the attention factor (1 unless set), cast to the activations' type,
   * unsqueezed in every layer; rotate_half by two Slices on the last axis. Off: one Split, tables
   * unsqueezed once.
   */
  exportedRope: boolean
  /**
   * RoPE tables as transformers 4.35-4.37 export them, and many published ONNX files carry them:
   * cos_cached and sin_cached initializers [cachedRopeRows, D] for positions 0 .. rows - 1,
   * sliced to the total length, gathered by position_ids, cast. 0: computed from position_ids.
   */
  cachedRopeRows: number
  /**
   * The mask as transformers' eager and SDPA Llama attention exports apply it: a float mask (0 or
   * -FLT_MAX, as masked_fill makes it) built once and added to every layer's scores. Off: every
   * layer selects with Where(allowed, scores, -FLT_MAX), as GPT-2-style exports do: with the
   * Softmax after it, 1.6-1.9x slower in onnxruntime than the Add over a prefill chunk's scores.
   */
  additiveMask: boolean
  /** The default domain's opset: from 18, ReduceMean takes its axes as an input, Split num_outputs. */
  opset: 17 | 18
  /**
   * Constants (shapes, axes, Slice bounds, scalars) as torch.onnx exports them: a Constant node
   * right before each node reading one. Off: initializers, listed apart from the nodes.
   */
  inlineConstants: boolean
}

/**
 * As Optimum exports a decoder of fp32 weights, in the forms the engine's load-time rewrites
 * recognise (in-place KV, rotary and RMSNorm fusions), with num_logits_to_keep so every provider
 * computes a prefill's last logits only: what a conversion of a real model writes.
 */
export const EXPORT_SIGNATURE: DecoderSignature = {
  kv: 'float32',
  ids: 'int64',
  positionIds: true,
  logitsToKeep: true,
  singleTokenPass: false,
  maskIgnored: false,
  repeatKv: true,
  exportedRmsNorm: true,
  exportedRope: true,
  cachedRopeRows: 0,
  additiveMask: true,
  opset: 17,
  inlineConstants: false,
}

export interface DecoderOptions {
  /** The inputs, outputs and op patterns; EXPORT_SIGNATURE's where unset. */
  signature?: Partial<DecoderSignature>
  /** [vocab] added to the logits as `lm_head.bias`; test models steer random weights with it. */
  logitBias?: Float32Array | null
  /** The model's producer_name. */
  producer?: string
}

const FLT_MAX = 3.4028234663852886e38
const INT64_MAX = Number.MAX_SAFE_INTEGER

/**
 * Writes `<dir>/<file>` and its weights, `<dir>/<file>_data`. The graph asks `source` for each
 * weight once, by transformers' name; on an error (the source's too) the data file is closed and
 * nothing more is written.
 */
export function writeDecoder(
  dir: string,
  file: string,
  shape: DecoderShape,
  source: DecoderWeightSource,
  options: DecoderOptions = {},
): void {
  const { heads, kvHeads, headDim } = shape
  if (heads % kvHeads !== 0) throw new Error(`${heads} heads do not divide into ${kvHeads} key/value heads`)
  if (headDim % 2 !== 0) throw new Error(`rope needs an even head size, not ${headDim}`)
  const g = new GraphBuilder(dir, `${file}_data`)
  g.producer = options.producer ?? g.producer
  try {
    buildGraph(g, shape, { ...EXPORT_SIGNATURE, ...options.signature }, source, options.logitBias ?? null)
    writeFileSync(path.join(dir, file), g.finish('hearth-decoder'))
  } catch (err) {
    g.abort()
    throw err
  }
}

function buildGraph(
  g: GraphBuilder,
  shape: DecoderShape,
  sig: DecoderSignature,
  source: DecoderWeightSource,
  logitBias: Float32Array | null,
): void {
  const { layers, hidden: H, heads, kvHeads, headDim: D, intermediate: I, vocab: V } = shape
  const rep = heads / kvHeads
  const scalar = (v: number): string => g.int64([v], [])
  const vector = (name: string, n: number): string => g.tensor(name, 'float32', [n], sized(name, source.vector(name, n), n))
  const matmul = (x: string, name: string, K: number, N: number): string => project(g, x, name, source.matmul(name, K, N), K, N)
  // A projection as torch exports nn.Linear over 3-D input: MatMul, then Add(bias, product).
  const linear = (x: string, name: string, K: number, N: number, biased: boolean): string => {
    const product = matmul(x, `${name}.weight`, K, N)
    return biased ? g.op('Add', [vector(`${name}.bias`, N), product]) : product
  }
  g.opset = sig.opset
  g.inlineConstants = sig.inlineConstants
  // Mean over the last axis, kept: its axes an attribute before opset 18, an input from it.
  const mean = (x: string): string =>
    sig.opset >= 18 ? g.op('ReduceMean', [x, g.int64([-1])], { keepdims: 1 }) : g.op('ReduceMean', [x], { axes: [-1], keepdims: 1 })
  const rmsNorm = (x: string, name: string): string => {
    const w = vector(name, H)
    if (sig.exportedRmsNorm) {
      const variance = mean(g.op('Pow', [x, g.float([2], [])]))
      return g.op('Mul', [w, g.op('Div', [x, g.op('Sqrt', [g.op('Add', [variance, g.float([shape.rmsEps], [])])])])])
    }
    const ms = mean(g.op('Mul', [x, x]))
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [ms, g.float([shape.rmsEps], [])])])])
    return g.op('Mul', [g.op('Mul', [x, inv]), w])
  }

  // Inputs, named and shaped as Optimum exports them.
  const ids = g.input('input_ids', sig.ids, ['batch_size', 'sequence_length'])
  const mask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length'])
  const positionIds = sig.positionIds
    ? g.input('position_ids', 'int64', ['batch_size', 'sequence_length'])
    : null
  const past: [string, string][] = []
  for (let i = 0; i < layers; i++) {
    const dims = ['batch_size', kvHeads, 'past_sequence_length', D]
    past.push([
      g.input(`past_key_values.${i}.key`, sig.kv, dims),
      g.input(`past_key_values.${i}.value`, sig.kv, dims),
    ])
  }
  const logitsToKeep = sig.logitsToKeep ? g.input('num_logits_to_keep', 'int64', []) : null

  // Lengths as 0-D scalars: seq (new tokens), past, total = past + seq.
  const seq = g.op('Gather', [g.op('Shape', [ids]), scalar(1)])
  const pastLen = g.op('Gather', [g.op('Shape', [past[0]![0]]), scalar(2)])
  const total = g.op('Add', [pastLen, seq])

  const embed = g.tensor('model.embed_tokens.weight', 'float32', [V, H], sized('model.embed_tokens.weight', source.embedding(V, H), V * H))
  let h = g.op('Gather', [embed, ids], { axis: 0 }) // [B, S, H]

  // RoPE tables: cos, sin [B, 1, S, D] from positions [B, S].
  const positions =
    positionIds ?? g.op('Unsqueeze', [g.op('Range', [pastLen, total, scalar(1)]), g.int64([0])])
  const invFreq = ropeInvFreq(D, shape.ropeTheta, shape.ropeScaling ?? null)
  const attentionFactor = shape.ropeAttentionFactor ?? 1
  const computedTables = (): [string, string] => {
    const freqs = g.op('Mul', [
      g.op('Unsqueeze', [g.op('Cast', [positions], { to: 1 }), g.int64([2])]),
      g.float(invFreq),
    ]) // [B, S, D/2]
    const angles = g.op('Concat', [freqs, freqs], { axis: -1 })
    const table = (trig: 'Cos' | 'Sin'): string => {
      if (sig.exportedRope) return g.op('Cast', [g.op('Mul', [g.op(trig, [angles]), g.float([attentionFactor], [])])], { to: 1 })
      return attentionFactor === 1 ? g.op(trig, [angles]) : g.op('Mul', [g.op(trig, [angles]), g.float([attentionFactor], [])])
    }
    return [table('Cos'), table('Sin')]
  }
  const cachedTables = (): [string, string] => {
    if (!positionIds) throw new Error('cached rope tables are gathered by position_ids, which the signature leaves out')
    const end = g.op('Unsqueeze', [total, g.int64([0])])
    const whole = ropeCache(invFreq, sig.cachedRopeRows, attentionFactor)
    const rowsOf = (name: 'cos' | 'sin'): string => {
      const t = g.tensor(`${name}_cached`, 'float32', [sig.cachedRopeRows, D], whole[name])
      return g.op('Cast', [g.op('Gather', [g.op('Slice', [t, g.int64([0]), end, g.int64([0])]), positionIds], { axis: 0 })], { to: 1 })
    }
    return [rowsOf('cos'), rowsOf('sin')]
  }
  const [cosTable, sinTable] = sig.cachedRopeRows > 0 ? cachedTables() : computedTables() // [B, S, D]
  const shared: [string, string] | null = sig.exportedRope ? null : [g.op('Unsqueeze', [cosTable, g.int64([1])]), g.op('Unsqueeze', [sinTable, g.int64([1])])]
  const rope = (x: string): string => {
    const [x1, x2] = sig.exportedRope
      ? [
          g.op('Slice', [x, g.int64([0]), g.int64([D / 2]), g.int64([-1]), g.int64([1])]),
          g.op('Slice', [x, g.int64([D / 2]), g.int64([INT64_MAX]), g.int64([-1]), g.int64([1])]),
        ]
      : (g.node('Split', [x], sig.opset >= 18 ? { axis: -1, num_outputs: 2 } : { axis: -1 }, { outputs: 2 }) as [string, string])
    const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: -1 })
    const [cos, sin]: [string, string] = shared ?? [g.op('Unsqueeze', [cosTable, g.int64([1])]), g.op('Unsqueeze', [sinTable, g.int64([1])])]
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])])
  }

  // allowed(i, j) = j <= i + past AND attention_mask[j], as [B, 1, S, T] for 4-D attention over
  // repeated heads, [B, 1, 1, S, T] for the grouped scores.
  const rows = g.op('Unsqueeze', [
    g.op('Add', [g.op('Range', [scalar(0), seq, scalar(1)]), pastLen]),
    g.int64([1]),
  ])
  const cols = g.op('Unsqueeze', [g.op('Range', [scalar(0), total, scalar(1)]), g.int64([0])])
  const causal = g.op('LessOrEqual', [cols, rows]) // [S, T]
  // [S, T] is lifted to the scores' rank directly: without the mask there is no batch axis to broadcast.
  const allowed = sig.maskIgnored
    ? g.op('Unsqueeze', [causal, g.int64(sig.repeatKv ? [0, 1] : [0, 1, 2])])
    : g.op('Unsqueeze', [
        g.op('And', [causal, g.op('Unsqueeze', [g.op('Cast', [mask], { to: 9 }), g.int64([1])])]), // [B, S, T]
        g.int64(sig.repeatKv ? [1] : [1, 2]),
      ])
  const repeatKv = (x: string): string => {
    if (rep === 1) return x
    const shape = g.op('Shape', [x])
    const batch = g.op('Slice', [shape, g.int64([0]), g.int64([1])])
    const length = g.op('Slice', [shape, g.int64([2]), g.int64([3])])
    const to5 = g.op('Concat', [batch, g.int64([kvHeads, rep]), length, g.int64([D])], { axis: 0 })
    const to4 = g.op('Concat', [batch, g.int64([heads]), length, g.int64([D])], { axis: 0 })
    return g.op('Reshape', [g.op('Expand', [g.op('Unsqueeze', [x, g.int64([2])]), to5]), to4])
  }
  const masked = g.float([-FLT_MAX], [])
  const scale = g.float([1 / Math.sqrt(D)], [])
  // Each layer's masking: a Where on the scores, or an Add of a float mask made once here.
  const bias = sig.additiveMask ? g.op('Where', [allowed, g.float([0], []), masked]) : null
  const applyMask = (scores: string): string => (bias ? g.op('Add', [scores, bias]) : g.op('Where', [allowed, scores, masked]))

  const heads4 = (x: string, n: number): string =>
    g.op('Transpose', [g.op('Reshape', [x, g.int64([0, 0, n, D])])], { perm: [0, 2, 1, 3] })

  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`
    const x = rmsNorm(h, `${p}.input_layernorm.weight`)
    const biased = shape.qkvBias ?? false
    const q = rope(heads4(linear(x, `${p}.self_attn.q_proj`, H, heads * D, biased), heads)) // [B, heads, S, D]
    const k = rope(heads4(linear(x, `${p}.self_attn.k_proj`, H, kvHeads * D, biased), kvHeads)) // [B, kv, S, D]
    const v = heads4(linear(x, `${p}.self_attn.v_proj`, H, kvHeads * D, biased), kvHeads)

    const [pastK, pastV] = past[l]!
    const presentK = `present.${l}.key`
    const presentV = `present.${l}.value`
    let keys: string
    let values: string
    if (sig.kv === 'float16') {
      g.op('Concat', [pastK, g.op('Cast', [k], { to: 10 })], { axis: 2 }, { output: presentK })
      g.op('Concat', [pastV, g.op('Cast', [v], { to: 10 })], { axis: 2 }, { output: presentV })
      keys = g.op('Cast', [presentK], { to: 1 })
      values = g.op('Cast', [presentV], { to: 1 })
    } else {
      keys = g.op('Concat', [pastK, k], { axis: 2 }, { output: presentK })
      values = g.op('Concat', [pastV, v], { axis: 2 }, { output: presentV })
    }
    g.output(presentK, sig.kv, ['batch_size', kvHeads, 'total_sequence_length', D])
    g.output(presentV, sig.kv, ['batch_size', kvHeads, 'total_sequence_length', D])

    let attn: string // [B, heads, S, D]
    if (sig.repeatKv) {
      const scores = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [repeatKv(keys)], { perm: [0, 1, 3, 2] })]), scale])
      const probs = g.op('Softmax', [applyMask(scores)], { axis: -1 })
      attn = g.op('MatMul', [probs, repeatKv(values)])
    } else {
      // Grouped heads without repeating KV: q [B, kv, rep, S, D] against k, v [B, kv, 1, T, D].
      const q5 = g.op('Reshape', [q, g.int64([0, kvHeads, rep, -1, D])])
      const k5 = g.op('Unsqueeze', [keys, g.int64([2])])
      const v5 = g.op('Unsqueeze', [values, g.int64([2])])
      const scores = g.op('Mul', [
        g.op('MatMul', [q5, g.op('Transpose', [k5], { perm: [0, 1, 2, 4, 3] })]),
        scale,
      ]) // [B, kv, rep, S, T]
      const probs = g.op('Softmax', [applyMask(scores)], { axis: -1 })
      attn = g.op('Reshape', [g.op('MatMul', [probs, v5]), g.int64([0, heads, -1, D])])
    }
    const merged = g.op('Reshape', [
      g.op('Transpose', [attn], { perm: [0, 2, 1, 3] }),
      g.int64([0, 0, heads * D]),
    ])
    h = g.op('Add', [h, matmul(merged, `${p}.self_attn.o_proj.weight`, heads * D, H)])

    const y = rmsNorm(h, `${p}.post_attention_layernorm.weight`)
    const gate = matmul(y, `${p}.mlp.gate_proj.weight`, H, I)
    const up = matmul(y, `${p}.mlp.up_proj.weight`, H, I)
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up])
    h = g.op('Add', [h, matmul(act, `${p}.mlp.down_proj.weight`, I, H)])
  }

  let last = rmsNorm(h, 'model.norm.weight')
  if (logitsToKeep) {
    // num_logits_to_keep = k keeps the last k positions; 0 keeps all (Slice from -0 = 0).
    const start = g.op('Neg', [g.op('Unsqueeze', [logitsToKeep, g.int64([0])])])
    last = g.op('Slice', [last, start, g.int64([INT64_MAX]), g.int64([1])])
  }
  // [B, S, V], named `logits` unless the single-token quirk adds to it.
  const output = sig.singleTokenPass ? undefined : 'logits'
  let logits: string
  const head = source.lmHead(H, V)
  if (head === null) {
    // Tied lm_head as Gemm(h, embed, transB=1): one copy of the embedding table. As MatMul over a
    // Transpose, onnxruntime constant-folds a second, transposed copy (113 MB at SmolLM2-135M).
    const flat = g.op('Reshape', [last, g.int64([-1, H])])
    const bias = logitBias ? [g.tensor('lm_head.bias', 'float32', [V], sized('lm_head.bias', logitBias, V))] : []
    const logits2d = g.op('Gemm', [flat, embed, ...bias], { transB: 1 })
    const outShape = g.op('Concat', [
      g.op('Slice', [g.op('Shape', [last]), g.int64([0]), g.int64([2])]),
      g.int64([V]),
    ], { axis: 0 })
    logits = g.op('Reshape', [logits2d, outShape], {}, { output })
  } else {
    const bias = logitBias ? g.tensor('lm_head.bias', 'float32', [V], sized('lm_head.bias', logitBias, V)) : null
    logits = project(g, last, 'lm_head.weight', head, H, V, bias ? undefined : output)
    if (bias) logits = g.op('Add', [logits, bias], {}, { output })
  }
  if (sig.singleTokenPass) {
    const probe = g.op('Expand', [
      g.op('ConstantOfShape', [g.op('Unsqueeze', [seq, g.int64([0])])]),
      g.op('Unsqueeze', [total, g.int64([0])]),
    ])
    g.op('Add', [logits, g.op('ReduceSum', [probe], { keepdims: 0 })], {}, { output: 'logits' })
  }
  g.output('logits', 'float32', ['batch_size', 'logits_length', V])

}
