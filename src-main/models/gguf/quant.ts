// GGUF weights and float matrices written as onnxruntime MatMulNBits weights (block 32), with the
// error of each conversion measured against the values ggml (or the float source) gives.
//
// A GGUF weight with ne = [K, N] stores row n (output n) as K contiguous elements: the order of
// MatMulNBits' B [N, kBlocks, blob], so every conversion walks rows, then blocks of 32 along K.
// onnxruntime-node 1.30's CPU kernel, measured (2 threads, x [1, 2048] · W [2048, 2048]): 4 bits
// with no zero points (8) or packed uint8 ones ~0.2 ms, as fast as fp32 MatMul; 4 bits with float
// zero points ~10 ms (dequantizes every call); 8 bits ~5 ms at accuracy_level 0 (0.1 ms at level
// 4, which quantizes x to int8); 8 bits with float zero points is refused at run time.

import { AppError } from '../../../src-shared/errors.ts'
import type { NBitsWeight } from '../onnx-writer/weights.ts'
import { checkDequantizable, dequantizeInto } from './dequantize.ts'
import { ggmlTypeName } from './format.ts'
import { GgmlType } from './gguf-types.ts'
import { halfToFloat } from './half.ts'
import { Q4_K_BYTES, scaleMinK4 } from './k-quants.ts'

export { canDequantize, dequantize } from './dequantize.ts'

const BLOCK = 32

/**
 * How a block's affine part is carried (Q4_0 and Q8_0 ignore it: they need none).
 * 'float': a float zero point per block. Q4_1/Q4_K exact to fp32 rounding; the slow kernel.
 * 'uint8': packed uint8 zero points. The fast kernel; Q4_1/Q4_K are requantized (not exact).
 * 'offsets': zero points 0 and each block's offset in `blockOffsets`. Q4_1/Q4_K exact and the
 *   fast kernel, for one more small MatMul in the graph (see NBitsConversion.blockOffsets).
 */
export type NBitsForm = 'float' | 'uint8' | 'offsets'

export interface NBitsConversion {
  weight: NBitsWeight
  /**
   * Form 'offsets' only, else null: [kBlocks, N] row-major, the value added to every element of
   * block b of column n. Then x · W = MatMulNBits(x) + blockSums(x) · blockOffsets, where
   * blockSums(x) [.., kBlocks] sums x over each block of 32 along K (Reshape [.., kBlocks, 32],
   * ReduceSum over the last axis); the extra MatMul is 1/32 of the main one. Needs K % 32 = 0.
   */
  blockOffsets: Float32Array | null
  /** Every value decodes to exactly the source's float32 value. */
  exact: boolean
  /** Against the dequantized (or float) source, over all K·N values. */
  maxAbsError: number
  rmsError: number
}

/** A block as MatMulNBits sees it: w = (code - zp)·scale + offset. */
interface Block {
  scale: number
  zp: number
  offset: number
}

/** Collects blocks into the MatMulNBits arrays and measures each value against its source. */
class NBitsBuilder {
  readonly kBlocks: number
  private packed: Uint8Array
  private scales: Float32Array
  private zp: Float32Array | Uint8Array | null
  private offsets: Float32Array | null
  private zpRow: number
  private maxAbs = 0
  private sumSq = 0

  constructor(
    private K: number,
    private N: number,
    private bits: 4 | 8,
    /** 'default': no zero points input, the kernel's 8 or 128. */
    private form: NBitsForm | 'default',
  ) {
    const kBlocks = (this.kBlocks = Math.ceil(K / BLOCK))
    this.packed = new Uint8Array(N * kBlocks * ((BLOCK * bits) / 8))
    this.scales = new Float32Array(N * kBlocks)
    this.zpRow = Math.ceil((kBlocks * bits) / 8)
    this.zp = form === 'float' ? new Float32Array(N * kBlocks) : form === 'default' ? null : new Uint8Array(N * this.zpRow)
    this.offsets = form === 'offsets' ? new Float32Array(kBlocks * N) : null
  }

  /** Block b of row n: codes[0 .. count) against source[at ..]. */
  put(n: number, b: number, codes: Uint8Array, count: number, block: Block, source: Float32Array, at: number): void {
    const i = n * this.kBlocks + b
    const s = (this.scales[i] = Math.fround(block.scale))
    const z = this.form === 'default' ? 1 << (this.bits - 1) : Math.fround(block.zp)
    const off = Math.fround(block.offset)
    if (this.offsets) this.offsets[b * this.N + n] = off
    if (this.zp instanceof Float32Array) this.zp[i] = z
    else if (this.zp && this.bits === 8) this.zp[n * this.zpRow + b] = z
    else if (this.zp) this.zp[n * this.zpRow + (b >> 1)]! |= b & 1 ? z << 4 : z
    const base = i * ((BLOCK * this.bits) / 8)
    // Padding past K: any code; the kernel reads K values only.
    for (let k = 0; k < count; k++) {
      const q = codes[k]!
      if (this.bits === 8) this.packed[base + k] = q
      else this.packed[base + (k >> 1)]! |= k & 1 ? q << 4 : q
      const err = Math.abs(Math.fround(Math.fround(Math.fround(q - z) * s) + off) - source[at + k]!)
      if (err > this.maxAbs) this.maxAbs = err
      this.sumSq += err * err
    }
  }

  finish(): NBitsConversion {
    const { K, N, bits } = this
    const weight: NBitsWeight = { bits, blockSize: BLOCK, K, N, packed: this.packed, scales: this.scales, zeroPoints: this.zp }
    const rms = K * N ? Math.sqrt(this.sumSq / (K * N)) : 0
    return { weight, blockOffsets: this.offsets, exact: this.maxAbs === 0, maxAbsError: this.maxAbs, rmsError: rms }
  }
}

/**
 * Quantizes source[at .. at + count) (count ≤ 32) into codes. 'float' and 'offsets': the block's
 * own min..max in 2^bits - 1 steps. 'uint8': the range widened to hold 0, so that an integer zero
 * point exists. Every value lands within half a step.
 */
function quantizeBlock(source: Float32Array, at: number, count: number, bits: 4 | 8, form: NBitsForm, codes: Uint8Array): Block {
  const qmax = (1 << bits) - 1
  let min = Infinity
  let max = -Infinity
  for (let k = 0; k < count; k++) {
    min = Math.min(min, source[at + k]!)
    max = Math.max(max, source[at + k]!)
  }
  if (form === 'uint8') {
    min = Math.min(min, 0)
    max = Math.max(max, 0)
  }
  const scale = Math.fround((max - min) / qmax)
  if (scale === 0) {
    // A constant block (or one narrower than an fp32 step): code 1 at zero point 0 is its value.
    codes.fill(form === 'offsets' ? 0 : 1)
    return form === 'offsets' ? { scale: 0, zp: 0, offset: min } : { scale: min, zp: 0, offset: 0 }
  }
  const zp = form === 'uint8' ? Math.min(qmax, Math.max(0, Math.round(-min / scale))) : -min / scale
  const inv = 1 / scale
  for (let k = 0; k < count; k++) codes[k] = Math.min(qmax, Math.max(0, Math.round(source[at + k]! * inv + zp)))
  return form === 'offsets' ? { scale, zp: 0, offset: min } : { scale, zp, offset: 0 }
}

/** A block of Q4_0, Q8_0, Q4_1 or Q4_K taken over as it is: its codes, and its scale and offset. */
function directBlock(type: number, bytes: Uint8Array, rowAt: number, b: number, form: NBitsForm, codes: Uint8Array): Block {
  const half = (at: number): number => halfToFloat(bytes[at]! | (bytes[at + 1]! << 8))
  if (type === GgmlType.Q8_0) {
    const at = rowAt + b * 34
    for (let k = 0; k < BLOCK; k++) codes[k] = bytes[at + 2 + k]! ^ 0x80 // int8 q as q + 128
    return { scale: half(at), zp: 128, offset: 0 }
  }
  if (type === GgmlType.Q4_0 || type === GgmlType.Q4_1) {
    const at = rowAt + b * (type === GgmlType.Q4_0 ? 18 : 20)
    const qs = at + (type === GgmlType.Q4_0 ? 2 : 4)
    for (let j = 0; j < 16; j++) {
      codes[j] = bytes[qs + j]! & 0xf
      codes[j + 16] = bytes[qs + j]! >> 4
    }
    return type === GgmlType.Q4_0 ? { scale: half(at), zp: 8, offset: 0 } : affine(half(at), half(at + 2), form, codes)
  }
  // Q4_K: sub-block j of super-block b / 8; sub-blocks 2p and 2p + 1 share 32 bytes, low nibbles first.
  const at = rowAt + (b >> 3) * Q4_K_BYTES
  const j = b & 7
  const [sc, m] = scaleMinK4(bytes, at + 4, j)
  const qs = at + 16 + 32 * (j >> 1)
  const shift = j & 1 ? 4 : 0
  for (let k = 0; k < BLOCK; k++) codes[k] = (bytes[qs + k]! >> shift) & 0xf
  // d1·q - m1 with d1 = d·sc and m1 = dmin·m rounded to fp32 as ggml does (both exact products).
  return affine(Math.fround(half(at) * sc), -Math.fround(half(at + 2) * m), form, codes)
}

/** q·d + m: an offset m, or the zero point -m/d; with d = 0 the block is the constant m. */
function affine(d: number, m: number, form: NBitsForm, codes: Uint8Array): Block {
  if (form === 'offsets') return { scale: d, zp: 0, offset: m }
  if (d !== 0) return { scale: d, zp: -m / d, offset: 0 }
  codes.fill(1)
  return { scale: m, zp: 0, offset: 0 }
}

/** Block sums reshape x [.., K] to [.., K / 32, 32]: a partial last block has no such shape. */
function checkOffsets(form: NBitsForm, K: number): void {
  if (form === 'offsets' && K % BLOCK !== 0) throw new AppError('BAD_REQUEST', `form 'offsets' needs K a multiple of ${BLOCK}; K = ${K}`)
}

/**
 * A GGUF weight with ne = [K, N] as a MatMulNBits weight for x [.., K] · W [K, N]. Q4_0 and Q8_0
 * are exact whatever the form (a nibble reorder; int8 + 128 at 8 bits). Q4_1 and Q4_K keep their
 * codes with form 'float' (the default) or 'offsets'. Every other type, and Q4_1/Q4_K with
 * 'uint8', is dequantized and requantized to 4 bits.
 */
export function toMatMulNBits(type: number, bytes: Uint8Array, K: number, N: number, options: { form?: NBitsForm } = {}): NBitsConversion {
  const form = options.form ?? 'float'
  const { blockSize, typeSize } = checkDequantizable(type, bytes, K * N)
  if (K % blockSize !== 0) {
    throw new AppError('IMPORT_INVALID', `a ${ggmlTypeName(type)} weight's rows hold whole blocks of ${blockSize}; K = ${K}`)
  }
  checkOffsets(form, K)
  const plain = type === GgmlType.Q4_0 || type === GgmlType.Q8_0
  const direct = plain || (form !== 'uint8' && (type === GgmlType.Q4_1 || type === GgmlType.Q4_K))
  const builder = new NBitsBuilder(K, N, type === GgmlType.Q8_0 ? 8 : 4, plain ? 'default' : form)
  const rowBytes = (K / blockSize) * typeSize
  const row = new Float32Array(K)
  const codes = new Uint8Array(BLOCK)
  for (let n = 0; n < N; n++) {
    dequantizeInto(type, bytes, n * rowBytes, K, row)
    for (let b = 0; b < builder.kBlocks; b++) {
      // Only a float source (block size 1) can end in a partial block.
      const count = Math.min(BLOCK, K - b * BLOCK)
      const block = direct ? directBlock(type, bytes, n * rowBytes, b, form, codes) : quantizeBlock(row, b * BLOCK, count, 4, form, codes)
      builder.put(n, b, codes, count, block, row, b * BLOCK)
    }
  }
  return builder.finish()
}

/**
 * A float MatMul weight w [K, N] (row-major, the ONNX initializer layout) as a MatMulNBits weight,
 * asymmetric per block of 32: packed uint8 zero points (the default) or 'offsets', both on the
 * fast kernel at either width. K need not be a multiple of 32.
 */
export function quantizeNBits(w: Float32Array, K: number, N: number, bits: 4 | 8, form: 'uint8' | 'offsets' = 'uint8'): NBitsConversion {
  if (w.length !== K * N) throw new AppError('BAD_REQUEST', `a [${K}, ${N}] weight has ${K * N} values; ${w.length} given`)
  checkOffsets(form, K)
  const builder = new NBitsBuilder(K, N, bits, form)
  const column = new Float32Array(K)
  const codes = new Uint8Array(BLOCK)
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) column[k] = w[k * N + n]!
    for (let b = 0; b < builder.kBlocks; b++) {
      const count = Math.min(BLOCK, K - b * BLOCK)
      builder.put(n, b, codes, count, quantizeBlock(column, b * BLOCK, count, bits, form, codes), column, b * BLOCK)
    }
  }
  return builder.finish()
}
