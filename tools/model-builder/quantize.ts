// Int4 block quantization as onnxruntime's MatMulNBits quantizer writes it (com.microsoft), the one
// transformers.js runs for every model_q4.onnx: symmetric, blocks of 32 along K.

export interface Q4Weight {
  /** [N, kBlocks, blockSize / 2]: two 4-bit values per byte, the even k in the low nibble. */
  packed: Uint8Array
  /** [N * kBlocks]: one fp32 scale per block of one output column. */
  scales: Float32Array
  kBlocks: number
}

/**
 * Quantizes a MatMul weight `w` of shape [K, N] (row-major) symmetrically as onnxruntime's
 * MatMul4BitsQuantizer (is_symmetric) does: scale = m / -8, where m is the block's value of largest
 * magnitude, sign kept, so m itself is code 0 and the other codes span -8..7 around it;
 * q = round(w / scale) + 8. No zero_points input means ORT uses the default zero point 8.
 */
export function quantizeQ4(w: Float32Array, K: number, N: number, blockSize: number): Q4Weight {
  const kBlocks = Math.ceil(K / blockSize)
  const blob = blockSize / 2
  const packed = new Uint8Array(N * kBlocks * blob)
  const scales = new Float32Array(N * kBlocks)
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      let extreme = 0
      for (let i = 0; i < blockSize; i++) {
        const k = b * blockSize + i
        const v = k < K ? (w[k * N + n] as number) : 0
        if (Math.abs(v) > Math.abs(extreme)) extreme = v
      }
      const scale = extreme / -8
      const inverse = scale === 0 ? 0 : 1 / scale
      scales[n * kBlocks + b] = scale
      const base = (n * kBlocks + b) * blob
      for (let i = 0; i < blockSize; i++) {
        const k = b * blockSize + i
        const q = k < K ? Math.min(15, Math.max(0, Math.round((w[k * N + n] as number) * inverse + 8))) : 8
        packed[base + (i >> 1)]! |= (i & 1) === 0 ? q : q << 4
      }
    }
  }
  return { packed, scales, kBlocks }
}
