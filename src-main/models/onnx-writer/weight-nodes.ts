// A weight source's tensors as initializers, and the MatMul or MatMulNBits nodes reading them,
// checked against the shapes the graph asked for.

import type { GraphBuilder } from './graph-builder.ts'
import type { MatMulWeight, NBitsWeight } from './weights.ts'

/** x [B, S, K] · W [K, N], as MatMul or MatMulNBits; the result is named `output` when given. */
export function project(g: GraphBuilder, x: string, name: string, w: MatMulWeight, K: number, N: number, output?: string): string {
  if (w.kind === 'float') return g.op('MatMul', [x, g.tensor(name, 'float32', [K, N], sized(name, w.data, K * N))], {}, { output })
  return matMulNBits(g, x, name, w.weight, K, N, output)
}

/** MatMulNBits (com.microsoft) over a block-quantized weight, with its zero points when it has them. */
function matMulNBits(g: GraphBuilder, x: string, name: string, w: NBitsWeight, K: number, N: number, output?: string): string {
  const { bits, blockSize } = w
  if (w.K !== K || w.N !== N) throw new Error(`${name}: a [${w.K}, ${w.N}] weight where [${K}, ${N}] was asked for`)
  if (bits !== 4 && bits !== 8) throw new Error(`${name}: ${String(bits)}-bit weights (MatMulNBits takes 4 or 8 here)`)
  // onnxruntime's kernels take power-of-two blocks from 16 on.
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new Error(`${name}: block size ${blockSize} (a power of two from 16)`)
  const kBlocks = Math.ceil(K / blockSize)
  const inputs = [
    x,
    g.tensor(`${name}.q${bits}`, 'uint8', [N, kBlocks, (blockSize * bits) / 8], sized(`${name} packed`, w.packed, N * kBlocks * ((blockSize * bits) / 8))),
    g.tensor(`${name}.scales`, 'float32', [N * kBlocks], sized(`${name} scales`, w.scales, N * kBlocks)),
  ]
  let zp = w.zeroPoints
  // onnxruntime 1.30's CPU kernel runs float zero points for 4 bits only: 8-bit ones that are
  // whole codes are packed instead, exactly; others would fail at the first run.
  if (zp instanceof Float32Array && bits === 8) {
    sized(`${name} zero points`, zp, N * kBlocks)
    if (!zp.every((z) => Number.isInteger(z) && z >= 0 && z <= 255)) {
      throw new Error(`${name}: 8-bit weights with fractional zero points (onnxruntime's MatMulNBits runs those for 4 bits only)`)
    }
    zp = Uint8Array.from(zp)
  }
  if (zp instanceof Float32Array) {
    inputs.push(g.tensor(`${name}.zero_points`, 'float32', [N * kBlocks], sized(`${name} zero points`, zp, N * kBlocks)))
  } else if (zp !== null) {
    const n = N * Math.ceil((kBlocks * bits) / 8)
    inputs.push(g.tensor(`${name}.zero_points`, 'uint8', [n], sized(`${name} zero points`, zp, n)))
  }
  const attrs = { K, N, bits, block_size: blockSize }
  if (!w.blockOffsets) return g.op('MatMulNBits', inputs, attrs, { domain: 'com.microsoft', output })
  // x · W = MatMulNBits(x) + blockSums(x) · offsets: each block's sum of x, [B, S, kBlocks], times
  // what the block adds to every weight. A product 1/blockSize the size of the main one.
  if (K % blockSize !== 0) throw new Error(`${name}: block offsets need K (${K}) to be a multiple of the block size ${blockSize}`)
  const offsets = g.tensor(`${name}.block_offsets`, 'float32', [kBlocks, N], sized(`${name} block offsets`, w.blockOffsets, kBlocks * N))
  const sums = g.op('ReduceSum', [g.op('Reshape', [x, g.int64([0, 0, kBlocks, blockSize])]), g.int64([-1])], { keepdims: 0 })
  return g.op('Add', [g.op('MatMulNBits', inputs, attrs, { domain: 'com.microsoft' }), g.op('MatMul', [sums, offsets])], {}, { output })
}

/** `data`, checked to hold `n` values: a source's mistake is named here, not by onnxruntime at load. */
export function sized<T extends Float32Array | Uint8Array>(name: string, data: T, n: number): T {
  if (data.length !== n) throw new Error(`${name}: ${data.length} values where ${n} were expected`)
  return data
}
