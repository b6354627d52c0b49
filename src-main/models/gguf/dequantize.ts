// ggml tensor data decoded to float32: F32, F16, BF16, the 32-element quants and Q4_K/Q5_K/Q6_K.
//
// Legacy blocks of 32 (ggml-common.h) start with an f16 scale d (Q4_1/Q5_1: then an f16 min m).
// Q4_0/Q4_1: 16 bytes of nibbles, element j in the low nibble of qs[j], j + 16 in the high one.
// Q5_0/Q5_1: a u32 qh whose bit j is element j's fifth bit, then the same nibbles.
// Q8_0: 32 int8. Values: Q4_0 (q - 8)·d, Q5_0 (q - 16)·d, Q4_1/Q5_1 q·d + m, Q8_0 q·d.

import { AppError } from '../../../src-shared/errors.ts'
import { ggmlTypeTraits } from './format.ts'
import { GgmlType } from './gguf-types.ts'
import { bf16ToFloat, halfToFloat } from './half.ts'
import { decodeQ4K, decodeQ5K, decodeQ6K } from './k-quants.ts'

/** Decodes the block at byte `at` into out[o .. o + blockSize). */
type BlockDecoder = (b: Uint8Array, at: number, out: Float32Array, o: number) => void

const half = (b: Uint8Array, at: number): number => halfToFloat(b[at]! | (b[at + 1]! << 8))

function decodeQ4_0(b: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = half(b, at)
  for (let j = 0; j < 16; j++) {
    const q = b[at + 2 + j]!
    out[o + j] = ((q & 0xf) - 8) * d
    out[o + j + 16] = ((q >> 4) - 8) * d
  }
}

function decodeQ4_1(b: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = half(b, at)
  const m = half(b, at + 2)
  for (let j = 0; j < 16; j++) {
    const q = b[at + 4 + j]!
    out[o + j] = (q & 0xf) * d + m
    out[o + j + 16] = (q >> 4) * d + m
  }
}

function decodeQ5_0(b: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = half(b, at)
  const qh = (b[at + 2]! | (b[at + 3]! << 8) | (b[at + 4]! << 16) | (b[at + 5]! << 24)) >>> 0
  for (let j = 0; j < 16; j++) {
    const q = b[at + 6 + j]!
    out[o + j] = (((q & 0xf) | (((qh >>> j) & 1) << 4)) - 16) * d
    out[o + j + 16] = (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d
  }
}

function decodeQ5_1(b: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = half(b, at)
  const m = half(b, at + 2)
  const qh = (b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16) | (b[at + 7]! << 24)) >>> 0
  for (let j = 0; j < 16; j++) {
    const q = b[at + 8 + j]!
    out[o + j] = ((q & 0xf) | (((qh >>> j) & 1) << 4)) * d + m
    out[o + j + 16] = ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m
  }
}

function decodeQ8_0(b: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = half(b, at)
  for (let j = 0; j < 32; j++) out[o + j] = ((b[at + 2 + j]! << 24) >> 24) * d
}

function decodeF16(b: Uint8Array, at: number, out: Float32Array, o: number): void {
  out[o] = half(b, at)
}

function decodeBF16(b: Uint8Array, at: number, out: Float32Array, o: number): void {
  out[o] = bf16ToFloat(b[at]! | (b[at + 1]! << 8))
}

const DECODERS: Partial<Record<number, BlockDecoder>> = {
  [GgmlType.F16]: decodeF16,
  [GgmlType.BF16]: decodeBF16,
  [GgmlType.Q4_0]: decodeQ4_0,
  [GgmlType.Q4_1]: decodeQ4_1,
  [GgmlType.Q5_0]: decodeQ5_0,
  [GgmlType.Q5_1]: decodeQ5_1,
  [GgmlType.Q8_0]: decodeQ8_0,
  [GgmlType.Q4_K]: decodeQ4K,
  [GgmlType.Q5_K]: decodeQ5K,
  [GgmlType.Q6_K]: decodeQ6K,
}

const SUPPORTED = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q4_K', 'Q5_K', 'Q6_K'].join(', ')

/** Whether `dequantize` converts this ggml type. */
export function canDequantize(type: number): boolean {
  return type === GgmlType.F32 || DECODERS[type] !== undefined
}

/** Refuses a type `dequantize` cannot convert, by name, and checks `bytes` holds `count` elements. */
export function checkDequantizable(type: number, bytes: Uint8Array, count: number, byteOffset = 0): { blockSize: number; typeSize: number } {
  const traits = ggmlTypeTraits(type)
  if (!traits) throw new AppError('MODEL_UNSUPPORTED', `GGUF tensor type ${type} is unknown`)
  if (!canDequantize(type)) throw new AppError('MODEL_UNSUPPORTED', `GGUF ${traits.name} tensors cannot be converted (supported: ${SUPPORTED})`)
  const { blockSize, typeSize } = traits
  if (!Number.isSafeInteger(count) || count < 0 || count % blockSize !== 0) {
    throw new AppError('IMPORT_INVALID', `${traits.name} holds whole blocks of ${blockSize} elements; ${count} is not a multiple`)
  }
  const need = (count / blockSize) * typeSize
  if (byteOffset + need > bytes.byteLength) {
    throw new AppError('IMPORT_INVALID', `${count} ${traits.name} elements need ${need} bytes; ${bytes.byteLength - byteOffset} given`)
  }
  return { blockSize, typeSize }
}

/** Decodes `count` elements starting at bytes[byteOffset] into out[outOffset ..]. */
export function dequantizeInto(type: number, bytes: Uint8Array, byteOffset: number, count: number, out: Float32Array, outOffset = 0): void {
  const { blockSize, typeSize } = checkDequantizable(type, bytes, count, byteOffset)
  if (type === GgmlType.F32) {
    // An aligned view reads the file's little-endian floats as they are: every host we ship is LE.
    const view = new DataView(bytes.buffer, bytes.byteOffset + byteOffset, count * 4)
    if ((bytes.byteOffset + byteOffset) % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset + byteOffset, count), outOffset)
    else for (let i = 0; i < count; i++) out[outOffset + i] = view.getFloat32(i * 4, true)
    return
  }
  const decode = DECODERS[type]!
  const blocks = count / blockSize
  for (let i = 0; i < blocks; i++) decode(bytes, byteOffset + i * typeSize, out, outOffset + i * blockSize)
}

/** The `count` values of a tensor stored as ggml type `type`, exactly as ggml dequantizes them. */
export function dequantize(type: number, bytes: Uint8Array, count: number): Float32Array {
  checkDequantizable(type, bytes, count)
  const out = new Float32Array(count)
  dequantizeInto(type, bytes, 0, count, out)
  return out
}
