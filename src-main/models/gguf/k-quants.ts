// ggml's K-quant super-blocks (Q4_K, Q5_K, Q6_K) decoded to float32, in ggml's own arithmetic order.
//
// Each super-block holds 256 elements. Q4_K/Q5_K: f16 d, f16 dmin, 12 bytes of 6-bit scales and
// mins for 8 sub-blocks of 32, then the codes; x = (d * sc) * q - (dmin * m). Q6_K: 16 sub-blocks
// of 16 with int8 scales, x = (d * sc) * (q - 32), d stored last.

import { halfToFloat } from './half.ts'

export const QK_K = 256
export const Q4_K_BYTES = 144
export const Q5_K_BYTES = 176
export const Q6_K_BYTES = 210

/**
 * Scale and min of sub-block j (0..7) from the 12 packed bytes at `s`: the first four sub-blocks
 * keep 6 bits in bytes 0..7; the last four take 4 low bits from bytes 8..11 and their top 2 bits
 * from the spare high bits of bytes 0..7.
 */
export function scaleMinK4(b: Uint8Array, s: number, j: number): [sc: number, m: number] {
  if (j < 4) return [b[s + j]! & 63, b[s + j + 4]! & 63]
  return [(b[s + j + 4]! & 0xf) | ((b[s + j - 4]! >> 6) << 4), (b[s + j + 4]! >> 4) | ((b[s + j]! >> 6) << 4)]
}

/** One Q4_K super-block at `at`: sub-block pairs share 32 bytes, the first in low nibbles. */
export function decodeQ4K(b: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = halfToFloat(b[at]! | (b[at + 1]! << 8))
  const dmin = halfToFloat(b[at + 2]! | (b[at + 3]! << 8))
  for (let pair = 0; pair < 4; pair++) {
    const [sc1, m1] = scaleMinK4(b, at + 4, 2 * pair)
    const [sc2, m2] = scaleMinK4(b, at + 4, 2 * pair + 1)
    const d1 = Math.fround(d * sc1)
    const d2 = Math.fround(d * sc2)
    const min1 = Math.fround(dmin * m1)
    const min2 = Math.fround(dmin * m2)
    const q = at + 16 + 32 * pair
    const y = o + 64 * pair
    for (let l = 0; l < 32; l++) {
      out[y + l] = d1 * (b[q + l]! & 0xf) - min1
      out[y + 32 + l] = d2 * (b[q + l]! >> 4) - min2
    }
  }
}

/** One Q5_K super-block: as Q4_K, plus a fifth bit per element from qh (bit 2·pair, 2·pair + 1). */
export function decodeQ5K(b: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = halfToFloat(b[at]! | (b[at + 1]! << 8))
  const dmin = halfToFloat(b[at + 2]! | (b[at + 3]! << 8))
  const qh = at + 16
  for (let pair = 0; pair < 4; pair++) {
    const [sc1, m1] = scaleMinK4(b, at + 4, 2 * pair)
    const [sc2, m2] = scaleMinK4(b, at + 4, 2 * pair + 1)
    const d1 = Math.fround(d * sc1)
    const d2 = Math.fround(d * sc2)
    const min1 = Math.fround(dmin * m1)
    const min2 = Math.fround(dmin * m2)
    const lo = 1 << (2 * pair)
    const hi = 2 << (2 * pair)
    const q = at + 48 + 32 * pair
    const y = o + 64 * pair
    for (let l = 0; l < 32; l++) {
      const h = b[qh + l]!
      out[y + l] = d1 * ((b[q + l]! & 0xf) + (h & lo ? 16 : 0)) - min1
      out[y + 32 + l] = d2 * ((b[q + l]! >> 4) + (h & hi ? 16 : 0)) - min2
    }
  }
}

/**
 * One Q6_K super-block: two halves of 128; in each, element l (0..31) of the four quarters takes
 * its low 4 bits from ql[l] / ql[l + 32] (low, then high nibbles) and its top 2 bits from qh[l].
 */
export function decodeQ6K(b: Uint8Array, at: number, out: Float32Array, o: number): void {
  const d = halfToFloat(b[at + 208]! | (b[at + 209]! << 8))
  for (let half = 0; half < 2; half++) {
    const ql = at + 64 * half
    const qh = at + 128 + 32 * half
    const sc = at + 192 + 8 * half
    const y = o + 128 * half
    for (let l = 0; l < 32; l++) {
      const is = l >> 4
      const h = b[qh + l]!
      const q1 = ((b[ql + l]! & 0xf) | ((h & 3) << 4)) - 32
      const q2 = ((b[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) - 32
      const q3 = ((b[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32
      const q4 = ((b[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32
      // d * sc is exact in fp32 (an f16 times an int8); the product with q rounds once, as in C.
      out[y + l] = Math.fround(d * int8(b[sc + is]!)) * q1
      out[y + 32 + l] = Math.fround(d * int8(b[sc + is + 2]!)) * q2
      out[y + 64 + l] = Math.fround(d * int8(b[sc + is + 4]!)) * q3
      out[y + 96 + l] = Math.fround(d * int8(b[sc + is + 6]!)) * q4
    }
  }
}

function int8(u: number): number {
  return (u << 24) >> 24
}
