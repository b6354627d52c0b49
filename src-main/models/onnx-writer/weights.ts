// What the decoder writer takes as weights, from whichever source: a seeded generator (the model
// builder's test and bench models) or a GGUF file (the importer).

/**
 * A block-quantized MatMul weight in onnxruntime's MatMulNBits layout (com.microsoft). The MatMul
 * is x [.., K] · W [K, N]; blocks run along K, one row of blocks per output column n.
 */
export interface NBitsWeight {
  bits: 4 | 8
  blockSize: number
  K: number
  N: number
  /**
   * [N, kBlocks, blockSize * bits / 8], kBlocks = ceil(K / blockSize). 4 bits: element k of a
   * block in the low nibble of byte k >> 1 when k is even, the high nibble when odd.
   */
  packed: Uint8Array
  /** [N * kBlocks]: w = (q - zeroPoint) * scale. */
  scales: Float32Array
  /**
   * null: the kernel's default zero point (8 for 4 bits, 128 for 8 bits). Float32Array: one float
   * zero point per block, [N * kBlocks]. Uint8Array: packed as MatMulNBits specifies,
   * [N * ceil(kBlocks * bits / 8)].
   */
  zeroPoints: Float32Array | Uint8Array | null
  /**
   * [kBlocks, N], or absent: a value added to every weight of block b of column n, for blocks
   * whose affine part no zero point carries exactly (GGUF's Q4_1, Q4_K). The writer adds
   * blockSums(x) · blockOffsets to the MatMulNBits result: exact, and the fast kernel stays.
   */
  blockOffsets?: Float32Array | null
}

export type MatMulWeight =
  /** [K, N] row-major, as an ONNX MatMul initializer. */
  | { kind: 'float'; data: Float32Array }
  | { kind: 'nbits'; weight: NBitsWeight }

/** Weights by transformers' names (model.layers.0.self_attn.q_proj.weight, model.norm.weight). */
export interface DecoderWeightSource {
  /** The projection `name` as the MatMul weight W [K, N] of x · W. */
  matmul(name: string, K: number, N: number): MatMulWeight
  /** A 1-D weight of `n` values: a norm's scale or a projection's bias (…q_proj.bias). */
  vector(name: string, n: number): Float32Array
  /** model.embed_tokens.weight, [V, H]: one row per token. */
  embedding(V: number, H: number): Float32Array
  /**
   * lm_head.weight as the MatMul weight [H, V] of logits = h · W. null: tied, the embedding itself
   * read by a Gemm. A tied head may also come back as its own copy, as quantized exports carry it.
   */
  lmHead(H: number, V: number): MatMulWeight | null
}
