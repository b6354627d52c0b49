// A GGUF's tensors as the decoder writer asks for them: by transformers' names, in ONNX's MatMul
// layout, quantized blocks carried over to MatMulNBits where that is exact, and a tally of what
// was done to each.

import { readSync } from 'node:fs'
import type { DecoderWeightSource, MatMulWeight, NBitsWeight } from '../onnx-writer/weights.ts'
import { expectedTensors, type GgufModel } from './architecture.ts'
import { GgmlType, type GgufTensorInfo } from './gguf-types.ts'
import { dequantize, quantizeNBits, toMatMulNBits } from './quant.ts'

/** The variants a conversion can write. */
export type ConvertedVariant = 'fp32' | 'q8' | 'q4'

/** How projections are written: as their GGUF type allows ('source'), or all at one precision. */
export type WeightPrecision = 'source' | ConvertedVariant

export interface WeightTally {
  /** Tensors written as floats, their values exactly the GGUF's. */
  float: number
  /** Quantized blocks carried over unchanged in value (a repack). */
  exact: number
  /** Tensors whose values changed: requantized from a K-quant, or quantized from floats. */
  requantized: number
  /** Over the requantized tensors: the largest error of one weight, and the root mean square error. */
  maxAbsError: number
  rmsError: number
  /** Bits of the MatMulNBits weights written (empty: none). */
  bits: Set<4 | 8>
}

/**
 * Written as fp32, exactly. Q8_0 too: onnxruntime 1.30's 8-bit MatMulNBits is exact only at
 * accuracy level 0, where it ran 14x slower than an fp32 MatMul.
 */
const FLOAT_TYPES = new Set<number>([GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0])
/**
 * Blocks carried into 4-bit MatMulNBits unchanged in value: Q4_0 as it is; Q4_1 and Q4_K with
 * their block minimums as block offsets (float zero points would be exact too, but select a
 * kernel ~40x slower at decode).
 */
const EXACT_TYPES = new Set<number>([GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q4_K])

export class GgufWeightSource implements DecoderWeightSource {
  readonly tally: WeightTally = { float: 0, exact: 0, requantized: 0, maxAbsError: 0, rmsError: 0, bits: new Set() }
  private squaredError = 0
  private errorCount = 0

  private done = 0
  private readonly total: number

  constructor(
    private readonly fd: number,
    private readonly model: GgufModel,
    private readonly precision: WeightPrecision,
    private readonly onProgress: (done: number, total: number) => void = () => {},
  ) {
    this.total = expectedTensors(model).length
  }

  matmul(name: string, K: number, N: number): MatMulWeight {
    const { tensor, rows, permute } = this.locate(name)
    return this.step(this.projection(tensor, rows, K, N, permute))
  }

  vector(name: string, n: number): Float32Array {
    const { tensor, rows, permute } = this.locate(name)
    const values = this.floats(tensor).subarray(rows[0], rows[0] + n)
    return this.step(permute ? permuteRows(values, 1, permute) : values.slice())
  }

  embedding(V: number, H: number): Float32Array {
    return this.step(this.floats(this.tensor('token_embd.weight')).subarray(0, V * H))
  }

  /** rope_freqs.weight: one divisor per rotary frequency, [headDim / 2]. */
  ropeFactors(): Float32Array {
    const t = this.tensor('rope_freqs.weight')
    return this.floats(t).slice(0, this.model.headDim / 2)
  }

  lmHead(H: number, V: number): MatMulWeight | null {
    return this.model.tied ? null : this.step(this.projection(this.tensor('output.weight'), [0, V], H, V, 0))
  }

  /** Reports one more tensor written (phi3's fused ones count once a part). */
  private step<T>(value: T): T {
    this.done++
    this.onProgress(Math.min(this.done, this.total), this.total)
    return value
  }

  /**
   * A projection's rows [start, end) of `tensor` (ne = [K, rows]): rows are outputs, K runs
   * within each; `permute` is the head count whose q/k rows llama.cpp interleaved, else 0.
   */
  private projection(tensor: GgufTensorInfo, [start, end]: [number, number], K: number, N: number, permute: number): MatMulWeight {
    if (end - start !== N) throw new Error(`${tensor.name}: ${end - start} rows for ${N} outputs`)
    const bytes = this.read(tensor)
    const rowBytes = bytes.byteLength / tensor.ne[1]!
    const slice = bytes.subarray(start * rowBytes, end * rowBytes)
    const target = this.precision === 'source' ? null : this.precision
    if (target === 'fp32' || (target === null && FLOAT_TYPES.has(tensor.type))) {
      this.tally.float++
      let rowsKN = dequantize(tensor.type, slice, K * N) // [N, K]: one row per output
      if (permute) rowsKN = permuteRows(rowsKN, K, permute)
      return { kind: 'float', data: transpose(rowsKN, N, K) }
    }
    if (target === null && EXACT_TYPES.has(tensor.type)) {
      const { weight, blockOffsets } = toMatMulNBits(tensor.type, slice, K, N, { form: 'offsets' })
      this.tally.exact++
      const exact = { ...weight, blockOffsets }
      return this.nbits(permute ? permuteNBits(exact, permute) : exact)
    }
    const bits = target === 'q8' ? 8 : 4
    if (target === null && !FLOAT_TYPES.has(tensor.type)) {
      // A type without an exact 4-bit form (Q5_K, Q6_K, Q5_0, Q5_1): dequantized and requantized,
      // with integer zero points (the fast kernel).
      const converted = toMatMulNBits(tensor.type, slice, K, N, { form: 'uint8' })
      this.count(converted.maxAbsError, converted.rmsError)
      return this.nbits(permute ? permuteNBits(converted.weight, permute) : converted.weight)
    }
    let rowsKN = dequantize(tensor.type, slice, K * N)
    if (permute) rowsKN = permuteRows(rowsKN, K, permute)
    const quantized = quantizeNBits(transpose(rowsKN, N, K), K, N, bits)
    this.count(quantized.maxAbsError, quantized.rmsError)
    return this.nbits(quantized.weight)
  }

  private nbits(weight: NBitsWeight): MatMulWeight {
    this.tally.bits.add(weight.bits)
    return { kind: 'nbits', weight }
  }

  private count(maxAbsError: number, rmsError: number): void {
    this.tally.requantized++
    this.tally.maxAbsError = Math.max(this.tally.maxAbsError, maxAbsError)
    this.squaredError += rmsError * rmsError
    this.errorCount++
    this.tally.rmsError = Math.sqrt(this.squaredError / this.errorCount)
  }

  /** The GGUF tensor behind a transformers name, the rows of it that name holds, and its rope permutation. */
  private locate(name: string): { tensor: GgufTensorInfo; rows: [number, number]; permute: number } {
    const m = this.model
    const { heads, kvHeads, headDim: D, intermediate: I } = m
    if (name === 'model.norm.weight') return { tensor: this.tensor('output_norm.weight'), rows: [0, m.hidden], permute: 0 }
    const match = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name)
    if (!match) throw new Error(`no GGUF tensor for ${name}`)
    const [, layer, part, kind] = match as unknown as [string, string, string, 'weight' | 'bias']
    const b = `blk.${layer}`
    const whole = (ggml: string, permute = 0) => {
      const tensor = this.tensor(`${b}.${ggml}.${kind}`)
      return { tensor, rows: [0, tensor.ne[kind === 'weight' ? 1 : 0]!] as [number, number], permute }
    }
    const q = heads * D
    const kv = kvHeads * D
    switch (part) {
      case 'input_layernorm':
        return whole('attn_norm')
      case 'post_attention_layernorm':
        return whole('ffn_norm')
      case 'self_attn.o_proj':
        return whole('attn_output')
      case 'mlp.down_proj':
        return whole('ffn_down')
      case 'self_attn.q_proj':
        return m.fused ? { tensor: this.tensor(`${b}.attn_qkv.${kind}`), rows: [0, q], permute: 0 } : whole('attn_q', m.unpermuteQk ? heads : 0)
      case 'self_attn.k_proj':
        return m.fused ? { tensor: this.tensor(`${b}.attn_qkv.${kind}`), rows: [q, q + kv], permute: 0 } : whole('attn_k', m.unpermuteQk ? kvHeads : 0)
      case 'self_attn.v_proj':
        return m.fused ? { tensor: this.tensor(`${b}.attn_qkv.${kind}`), rows: [q + kv, q + 2 * kv], permute: 0 } : whole('attn_v')
      case 'mlp.gate_proj':
        return m.fused ? { tensor: this.tensor(`${b}.ffn_up.${kind}`), rows: [0, I], permute: 0 } : whole('ffn_gate')
      case 'mlp.up_proj':
        return m.fused ? { tensor: this.tensor(`${b}.ffn_up.${kind}`), rows: [I, 2 * I], permute: 0 } : whole('ffn_up')
      default:
        throw new Error(`no GGUF tensor for ${name}`)
    }
  }

  private tensor(name: string): GgufTensorInfo {
    const t = this.model.tensors.get(name)
    if (!t) throw new Error(`tensor ${name} is missing`)
    return t
  }

  private floats(tensor: GgufTensorInfo): Float32Array {
    return dequantize(tensor.type, this.read(tensor), tensor.ne.reduce((a, b) => a * b, 1))
  }

  private read(tensor: GgufTensorInfo): Uint8Array {
    const bytes = new Uint8Array(tensor.byteLength)
    let done = 0
    while (done < bytes.byteLength) {
      const n = readSync(this.fd, bytes, done, bytes.byteLength - done, tensor.offset + done)
      if (n === 0) throw new Error(`${tensor.name} ends early`)
      done += n
    }
    return bytes
  }
}

/**
 * The variant a conversion writes, known before it starts (it names the .onnx file): with the
 * source's precision, 4-bit when any projection is quantized (Q8_0 aside), else fp32.
 */
export function plannedVariant(model: GgufModel, precision: WeightPrecision): ConvertedVariant {
  if (precision !== 'source') return precision
  const types = expectedTensors(model)
    .filter(([name, ne]) => ne.length === 2 && name !== 'token_embd.weight')
    .map(([name]) => model.tensors.get(name)!.type)
  return types.some((t) => !FLOAT_TYPES.has(t)) ? 'q4' : 'fp32'
}

/** [rows, cols] row-major to [cols, rows]. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!
  return out
}

/**
 * The HF row order of q or k rows that llama.cpp's converter interleaved for its pairwise rope:
 * HF row (h, half p, j) is GGUF row (h, j, p). `width` values per row.
 */
function permuteRows(a: Float32Array, width: number, heads: number): Float32Array {
  const rows = a.length / width
  const order = hfRowOrder(rows, heads)
  const out = new Float32Array(a.length)
  for (let r = 0; r < rows; r++) out.set(a.subarray(order[r]! * width, (order[r]! + 1) * width), r * width)
  return out
}

/** order[hfRow] = the GGUF row holding it. */
function hfRowOrder(rows: number, heads: number): number[] {
  const D = rows / heads
  const half = D / 2
  const order: number[] = []
  for (let h = 0; h < heads; h++) for (let p = 0; p < 2; p++) for (let j = 0; j < half; j++) order.push(h * D + 2 * j + p)
  return order
}

/** The same row permutation over a MatMulNBits weight: its rows are outputs, blocks within each. */
function permuteNBits(w: NBitsWeight, heads: number): NBitsWeight {
  const order = hfRowOrder(w.N, heads)
  const kBlocks = Math.ceil(w.K / w.blockSize)
  const rowsOf = <T extends Uint8Array | Float32Array>(a: T, per: number): T => {
    const out = new (a.constructor as new (n: number) => T)(a.length)
    for (let r = 0; r < w.N; r++) out.set(a.subarray(order[r]! * per, (order[r]! + 1) * per), r * per)
    return out
  }
  const zeroPoints =
    w.zeroPoints === null
      ? null
      : w.zeroPoints instanceof Float32Array
        ? rowsOf(w.zeroPoints, kBlocks)
        : rowsOf(w.zeroPoints, Math.ceil((kBlocks * w.bits) / 8))
  // Offsets are [kBlocks, N]: the permutation moves columns.
  let blockOffsets = w.blockOffsets ?? null
  if (blockOffsets) {
    const src = blockOffsets
    blockOffsets = new Float32Array(src.length)
    for (let b = 0; b < kBlocks; b++) for (let n = 0; n < w.N; n++) blockOffsets[b * w.N + n] = src[b * w.N + order[n]!]!
  }
  return { ...w, packed: rowsOf(w.packed, w.packed.length / w.N), scales: rowsOf(w.scales, kBlocks), zeroPoints, blockOffsets }
}
