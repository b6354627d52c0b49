// Int4 block quantization in the layout of onnxruntime's MatMulNBits (com.microsoft).

export interface Q4Weight {
  /** [N, kBlocks, blockSize / 2]: two 4-bit values per byte, the even k in the low nibble. */
  packed: Uint8Array
  /** [N * kBlocks]: one fp32 scale per block of one output column. */
  scales: Float32Array
  kBlocks: number
}

/**
 * Quantizes a MatMul weight `w` of shape [K, N] (row-major) symmetrically: q = round(w / scale) + 8,
 * with scale = max|w| / 7 per block. No zero_points input means ORT uses the default zero point 8.
 */
export function quantizeQ4(w: Float32Array, K: number, N: number, blockSize: number): Q4Weight {
  const kBlocks = Math.ceil(K / blockSize)
  const blob = blockSize / 2
  const packed = new Uint8Array(N * kBlocks * blob)
  const scales = new Float32Array(N * kBlocks)
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      let max = 0
      for (let i = 0; i < blockSize; i++) {
        const k = b * blockSize + i
        if (k < K) max = Math.max(max, Math.abs(w[k * N + n] as number))
      }
      const scale = max / 7 || 1
      scales[n * kBlocks + b] = scale
      const base = (n * kBlocks + b) * blob
      for (let i = 0; i < blockSize; i++) {
        const k = b * blockSize + i
        const q = k < K ? Math.min(15, Math.max(0, Math.round((w[k * N + n] as number) / scale) + 8)) : 8
        packed[base + (i >> 1)]! |= (i & 1) === 0 ? q : q << 4
      }
    }
  }
  return { packed, scales, kBlocks }
}
