// Reads an fp32 ONNX decoder's initializers (inline or external data) as a GGUF WeightSource, so
// llama.cpp runs the very weights the ONNX engines run. Names follow HF/Optimum exports
// (`model.layers.{i}.self_attn.q_proj.weight`); MatMul weights are [in, out] and come back
// transposed to PyTorch's [out, in].

import { closeSync, openSync, readFileSync, readSync } from 'node:fs'
import path from 'node:path'
import onnxProto from 'onnx-proto'

const { onnx } = onnxProto
type ITensorProto = onnxProto.onnx.ITensorProto

/** Every tensor a Llama/Qwen2 decoder has, in HF naming minus the `model.` prefix. */
export type WeightRole =
  | 'embed'
  | 'final_norm'
  | 'lm_head'
  | 'attn_norm'
  | 'q'
  | 'k'
  | 'v'
  | 'q_bias'
  | 'k_bias'
  | 'v_bias'
  | 'o'
  | 'ffn_norm'
  | 'gate'
  | 'up'
  | 'down'

/** Returns a weight in PyTorch layout; `layer` is set for per-layer roles. */
export type WeightSource = (role: WeightRole, layer: number | null) => Float32Array

const HF_NAME: Record<WeightRole, (layer: number) => string> = {
  embed: () => 'model.embed_tokens.weight',
  final_norm: () => 'model.norm.weight',
  lm_head: () => 'lm_head.weight',
  attn_norm: (i) => `model.layers.${i}.input_layernorm.weight`,
  q: (i) => `model.layers.${i}.self_attn.q_proj.weight`,
  k: (i) => `model.layers.${i}.self_attn.k_proj.weight`,
  v: (i) => `model.layers.${i}.self_attn.v_proj.weight`,
  q_bias: (i) => `model.layers.${i}.self_attn.q_proj.bias`,
  k_bias: (i) => `model.layers.${i}.self_attn.k_proj.bias`,
  v_bias: (i) => `model.layers.${i}.self_attn.v_proj.bias`,
  o: (i) => `model.layers.${i}.self_attn.o_proj.weight`,
  ffn_norm: (i) => `model.layers.${i}.post_attention_layernorm.weight`,
  gate: (i) => `model.layers.${i}.mlp.gate_proj.weight`,
  up: (i) => `model.layers.${i}.mlp.up_proj.weight`,
  down: (i) => `model.layers.${i}.mlp.down_proj.weight`,
}

/** Roles whose ONNX initializer is a MatMul right-hand side [in, out]. */
const MATMUL_ROLES = new Set<WeightRole>(['q', 'k', 'v', 'o', 'gate', 'up', 'down', 'lm_head'])

export interface OnnxWeights {
  source: WeightSource
  /** True when the export carries q/k/v biases (Qwen2). */
  hasQkvBias: boolean
  /** True when lm_head has its own weight (untied). */
  hasLmHead: boolean
  /**
   * lm_head.bias, [vocab]: the model builder's bias towards text tokens. A llama GGUF has no
   * tensor for it, so the GGUF's logits are the ONNX model's less this; null when absent.
   */
  logitBias: Float32Array | null
}

/** [rows, cols] row-major to [cols, rows]. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length)
  for (let r = 0; r < rows; r++) {
    const base = r * cols
    for (let c = 0; c < cols; c++) out[c * rows + r] = w[base + c]!
  }
  return out
}

function readTensor(t: ITensorProto, dir: string): Float32Array {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) {
    throw new Error(`initializer ${t.name} is not float32 (dataType ${t.dataType}); read weights from the fp32 file`)
  }
  const count = (t.dims ?? []).reduce((a: number, b) => a * Number(b), 1)
  if (t.rawData && t.rawData.length > 0) {
    // rawData may be a Buffer view into protobuf's whole input; copy out exactly its bytes.
    return new Float32Array(new Uint8Array(t.rawData).buffer, 0, count)
  }
  if (t.floatData && t.floatData.length > 0) return Float32Array.from(t.floatData)
  const ext = new Map((t.externalData ?? []).map((e) => [e.key, e.value]))
  const location = ext.get('location')
  if (!location) throw new Error(`initializer ${t.name} has no data`)
  const offset = Number(ext.get('offset') ?? 0)
  const out = new Float32Array(count)
  const fd = openSync(path.join(dir, location), 'r')
  try {
    const bytes = new Uint8Array(out.buffer)
    let done = 0
    while (done < bytes.length) {
      const n = readSync(fd, bytes, done, bytes.length - done, offset + done)
      if (n === 0) throw new Error(`${location} ends before ${t.name}'s data`)
      done += n
    }
  } finally {
    closeSync(fd)
  }
  return out
}

/** Opens `onnxFile` (fp32) and serves its weights by role. */
export function readOnnxWeights(onnxFile: string): OnnxWeights {
  const model = onnx.ModelProto.decode(readFileSync(onnxFile))
  const byName = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]))
  const dir = path.dirname(onnxFile)
  const source: WeightSource = (role, layer) => {
    const name = HF_NAME[role](layer ?? 0)
    const t = byName.get(name)
    if (!t) throw new Error(`${path.basename(onnxFile)} has no initializer ${name}`)
    const w = readTensor(t, dir)
    if (!MATMUL_ROLES.has(role)) return w
    const [rows, cols] = (t.dims ?? []).map(Number)
    if (rows === undefined || cols === undefined) throw new Error(`${name} is not a matrix`)
    return transpose(w, rows, cols)
  }
  return {
    source,
    hasQkvBias: byName.has(HF_NAME.q_bias(0)),
    hasLmHead: byName.has(HF_NAME.lm_head(0)),
    logitBias: byName.has('lm_head.bias') ? readTensor(byName.get('lm_head.bias')!, dir) : null,
  }
}
