// IEEE half and bfloat16 to float32: the scales of every ggml block format are halves.

let table: Float32Array | null = null

/** All 65536 halves decoded once (256 KB): a lookup beats bit-twiddling per scale and element. */
function halfTable(): Float32Array {
  if (table) return table
  table = new Float32Array(65536)
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1
    const exp = (h >> 10) & 0x1f
    const mant = h & 0x3ff
    table[h] =
      exp === 0 ? sign * mant * 2 ** -24
      : exp === 0x1f ? (mant ? NaN : sign * Infinity)
      : sign * (1 + mant / 1024) * 2 ** (exp - 15)
  }
  return table
}

export function halfToFloat(h: number): number {
  return halfTable()[h & 0xffff]!
}

const bf16Bits = new Uint32Array(1)
const bf16Float = new Float32Array(bf16Bits.buffer)

/** bfloat16 is the top half of a float32. */
export function bf16ToFloat(h: number): number {
  bf16Bits[0] = (h & 0xffff) << 16
  return bf16Float[0]!
}
