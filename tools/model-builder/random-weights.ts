// The model builder's weights: seeded random values for each tensor name, so the same seed gives
// the same model byte for byte, whatever else the graph holds.

import type { DecoderWeightSource, MatMulWeight } from '../../src-main/models/onnx-writer/weights.ts'
import { quantizeQ4 } from './quantize.ts'
import { Rng } from './random.ts'

/**
 * The final norm's weights: logits then have a standard deviation of about this times
 * sqrt(hidden) (2.8 for the tiny model), peaked enough that greedy picks are far from ties and
 * flat enough to sample from.
 */
export const FINAL_NORM_SCALE = 0.35

export interface RandomWeightOptions {
  seed: number
  /** 'fp32' MatMul weights, or symmetric int4 MatMulNBits weights (quantizeQ4) for every MatMul, lm_head too. */
  format: 'fp32' | 'q4'
  q4BlockSize: number
  /** Give the model its own lm_head (lm_head.weight) instead of reusing the embedding. */
  untied?: boolean
}

export class RandomWeights implements DecoderWeightSource {
  constructor(private readonly opts: RandomWeightOptions) {}

  matmul(name: string, K: number, N: number): MatMulWeight {
    // Residual branches (o_proj, down_proj) write 4x louder than the embedding: with tied embeddings
    // a random model whose residual stream is mostly its input embedding just repeats the input token.
    const gain = name.endsWith('o_proj.weight') || name.endsWith('down_proj.weight') ? 4 : 1
    return this.format(this.random(name, K * N, gain / Math.sqrt(K)), K, N)
  }

  /** Norm scales around 1 (FINAL_NORM_SCALE for the final norm); biases around 0. */
  vector(name: string, n: number): Float32Array {
    if (!name.endsWith('norm.weight')) return this.random(name, n, 0.1)
    const level = name === 'model.norm.weight' ? FINAL_NORM_SCALE : 1
    return this.random(name, n, 0.05 * level, level)
  }

  embedding(V: number, H: number): Float32Array {
    return this.random('embed', V * H, 1)
  }

  /**
   * Untied: values of the embedding's scale, so its logits spread as a tied model's do. Tied, fp32:
   * null, the embedding read by a Gemm. Tied, q4: the embedding transposed to [H, V] and quantized,
   * as real model_q4.onnx files have it: torch.onnx writes the tied head as a MatMul over its own
   * transposed copy of the table, and onnxruntime's quantizer turns every MatMul with a constant
   * weight into MatMulNBits while the embedding's Gather stays fp32.
   */
  lmHead(H: number, V: number): MatMulWeight | null {
    if (this.opts.untied) return this.format(this.random('lm_head.weight', H * V, 1), H, V)
    return this.opts.format === 'q4' ? this.format(transpose(this.embedding(V, H), V, H), H, V) : null
  }

  private format(w: Float32Array, K: number, N: number): MatMulWeight {
    if (this.opts.format === 'fp32') return { kind: 'float', data: w }
    const { q4BlockSize: blockSize } = this.opts
    const { packed, scales } = quantizeQ4(w, K, N, blockSize)
    return { kind: 'nbits', weight: { bits: 4, blockSize, K, N, packed, scales, zeroPoints: null } }
  }

  private random(name: string, n: number, std: number, mean = 0): Float32Array {
    return new Rng(hashSeed(this.opts.seed, name)).weights(n, std, mean)
  }
}

/** [rows, cols] row-major to [cols, rows]. */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!
  return out
}

/** FNV-1a of the name mixed with the seed: each tensor gets its own stream of random numbers. */
function hashSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0
  return h
}
