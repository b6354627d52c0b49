// GGUF blocks and float weights as MatMulNBits weights: the layout decoded by hand, the reported
// error re-measured, and onnxruntime-node's own MatMulNBits run on each form against x · W.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as ort from 'onnxruntime-node'
import onnxProto from 'onnx-proto'
import { GgmlType } from '../../../../src-main/models/gguf/gguf-types.ts'
import { dequantize, quantizeNBits, toMatMulNBits, type NBitsConversion } from '../../../../src-main/models/gguf/quant.ts'
import { quantizeQ4_0 } from '../../../../tools/bench/gguf.ts'
import { Rng } from '../../../../tools/model-builder/random.ts'
import { goldenBlock } from './golden/golden.ts'

const { onnx } = onnxProto
const DT = onnx.TensorProto.DataType

/**
 * W [K, N] as MatMulNBits defines it, (q - zero point) · scale per block, read independently of
 * the writer; plus each block's offset when the conversion has them.
 */
function decode(c: NBitsConversion): Float32Array {
  const w = c.weight
  const kBlocks = Math.ceil(w.K / w.blockSize)
  const blob = (w.blockSize * w.bits) / 8
  const zpRow = Math.ceil((kBlocks * w.bits) / 8)
  const out = new Float32Array(w.K * w.N)
  for (let n = 0; n < w.N; n++) {
    for (let k = 0; k < w.K; k++) {
      const b = Math.floor(k / w.blockSize)
      const i = k % w.blockSize
      const byte = w.packed[(n * kBlocks + b) * blob + (w.bits === 8 ? i : i >> 1)]!
      const q = w.bits === 8 ? byte : i % 2 ? byte >> 4 : byte & 15
      let zp = w.bits === 8 ? 128 : 8
      if (w.zeroPoints instanceof Float32Array) zp = w.zeroPoints[n * kBlocks + b]!
      else if (w.zeroPoints && w.bits === 8) zp = w.zeroPoints[n * zpRow + b]!
      else if (w.zeroPoints) zp = b % 2 ? w.zeroPoints[n * zpRow + (b >> 1)]! >> 4 : w.zeroPoints[n * zpRow + (b >> 1)]! & 15
      const offset = c.blockOffsets ? c.blockOffsets[b * w.N + n]! : 0
      out[k * w.N + n] = Math.fround(Math.fround(Math.fround(q - zp) * w.scales[n * kBlocks + b]!) + offset)
    }
  }
  return out
}

/** GGUF rows [N, K] (K contiguous) as the MatMul weight [K, N]. */
function transpose(rows: Float32Array, N: number, K: number): Float32Array {
  const out = new Float32Array(K * N)
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[k * N + n] = rows[n * K + k]!
  return out
}

function errors(a: Float32Array, b: Float32Array): { max: number; rms: number } {
  let max = 0
  let sq = 0
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!)
    max = Math.max(max, e)
    sq += e * e
  }
  return { max, rms: Math.sqrt(sq / a.length) }
}

/**
 * Runs one com.microsoft MatMulNBits node on x [M, K], and with block offsets the graph their
 * doc describes: Y = MatMulNBits(x) + ReduceSum(Reshape(x, [M, kBlocks, 32]), -1) · offsets.
 */
async function runMatMulNBits(c: NBitsConversion, x: Float32Array, M: number): Promise<Float32Array> {
  const w = c.weight
  const raw = (name: string, dataType: number, dims: number[], data: Uint8Array | Float32Array | BigInt64Array) => ({
    name,
    dataType,
    dims,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  })
  const kBlocks = Math.ceil(w.K / w.blockSize)
  const initializer = [raw('B', DT.UINT8, [w.N, kBlocks, (w.blockSize * w.bits) / 8], w.packed), raw('scales', DT.FLOAT, [w.scales.length], w.scales)]
  if (w.zeroPoints) initializer.push(raw('zp', w.zeroPoints instanceof Float32Array ? DT.FLOAT : DT.UINT8, [w.zeroPoints.length], w.zeroPoints))
  const A = onnx.AttributeProto.AttributeType
  const attrs = { K: w.K, N: w.N, bits: w.bits, block_size: w.blockSize }
  type Attr = { name: string; type: number; i: number }
  const node = (opType: string, input: string[], output: string, domain = '', attribute: Attr[] = []) => ({ opType, domain, input, output: [output], attribute })
  const nodes = [
    node(
      'MatMulNBits',
      ['A', 'B', 'scales', ...(w.zeroPoints ? ['zp'] : [])],
      c.blockOffsets ? 'Y0' : 'Y',
      'com.microsoft',
      Object.entries(attrs).map(([name, i]) => ({ name, type: A.INT, i })),
    ),
  ]
  if (c.blockOffsets) {
    initializer.push(raw('offsets', DT.FLOAT, [kBlocks, w.N], c.blockOffsets))
    initializer.push(raw('blocks', DT.INT64, [3], BigInt64Array.of(0n, BigInt(kBlocks), BigInt(w.blockSize))))
    initializer.push(raw('last', DT.INT64, [1], BigInt64Array.of(-1n)))
    nodes.push(
      node('Reshape', ['A', 'blocks'], 'Ab'),
      node('ReduceSum', ['Ab', 'last'], 'sums', '', [{ name: 'keepdims', type: A.INT, i: 0 }]),
      node('MatMul', ['sums', 'offsets'], 'Y1'),
      node('Add', ['Y0', 'Y1'], 'Y'),
    )
  }
  const tensorType = (dims: number[]) => ({ tensorType: { elemType: DT.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } })
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: {
      name: 'matmul-nbits',
      node: nodes,
      initializer,
      input: [{ name: 'A', type: tensorType([M, w.K]) }],
      output: [{ name: 'Y', type: tensorType([M, w.N]) }],
    },
  })
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish())
  try {
    const out = await session.run({ A: new ort.Tensor('float32', x, [M, w.K]) })
    return out.Y!.data as Float32Array
  } finally {
    await session.release()
  }
}

/** x [M, K] · W [K, N] in float64, and Σ|x·w| per output for a relative tolerance. */
function matmul(x: Float32Array, w: Float32Array, M: number, K: number, N: number): { y: Float64Array; mag: Float64Array } {
  const y = new Float64Array(M * N)
  const mag = new Float64Array(M * N)
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) {
        y[m * N + n]! += x[m * K + k]! * w[k * N + n]!
        mag[m * N + n]! += Math.abs(x[m * K + k]! * w[k * N + n]!)
      }
    }
  }
  return { y, mag }
}

/** onnxruntime's output matches x · decode(weight) to 1e-4 of Σ|x·w|. */
async function assertRunsAsDecoded(c: NBitsConversion, label: string): Promise<void> {
  const { K, N } = c.weight
  const M = 3
  const x = new Rng(K * 31 + N).weights(M * K, 1)
  const got = await runMatMulNBits(c, x, M)
  const { y, mag } = matmul(x, decode(c), M, K, N)
  for (let i = 0; i < M * N; i++) assert.ok(Math.abs(got[i]! - y[i]!) <= 1e-4 * mag[i]! + 1e-6, `${label}: output ${i}: ${got[i]} vs ${y[i]}`)
}

/** The conversion's reported error is the error of its decoded weight against `source` [K, N]. */
function assertMeasured(c: NBitsConversion, source: Float32Array): { max: number; rms: number } {
  const e = errors(decode(c), source)
  assert.equal(c.maxAbsError, e.max)
  assert.ok(Math.abs(c.rmsError - e.rms) <= 1e-6 * e.rms + 1e-12)
  assert.equal(c.exact, e.max === 0)
  return e
}

/** Each value within half a step of its block: (q - zp)·scale rounds x to the nearest code. */
function assertWithinHalfStep(c: NBitsConversion, source: Float32Array): void {
  const { K, N, blockSize } = c.weight
  const decoded = decode(c)
  const kBlocks = Math.ceil(K / blockSize)
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const step = c.weight.scales[n * kBlocks + Math.floor(k / blockSize)]!
      const e = Math.abs(decoded[k * N + n]! - source[k * N + n]!)
      assert.ok(e <= step * 0.5 * (1 + 1e-5) + 1e-9, `[${k}, ${n}]: error ${e} > half of ${step}`)
    }
  }
}

// Legacy blocks as 8 rows of 64; K-quants need rows of 256.
const SHAPES: Record<string, [K: number, N: number]> = { Q4_0: [64, 8], Q4_1: [64, 8], Q5_0: [64, 8], Q5_1: [64, 8], Q8_0: [64, 8], Q4_K: [256, 2], Q5_K: [256, 2], Q6_K: [256, 2], F16: [256, 2], BF16: [256, 2] }

function golden(name: string): { type: number; bytes: Uint8Array; K: number; N: number; W: Float32Array } {
  const { type, bytes, values } = goldenBlock(name)
  const [K, N] = SHAPES[name]!
  return { type, bytes, K, N, W: transpose(values, N, K) }
}

describe('toMatMulNBits', () => {
  it('carries Q4_0 over exactly: the nibble of element k at byte k/2 (low when even), scale d, zero point 8', async () => {
    const { type, bytes, K, N, W } = golden('Q4_0')
    const c = toMatMulNBits(type, bytes, K, N)
    assert.deepEqual([c.weight.bits, c.weight.blockSize, c.weight.zeroPoints, c.exact, c.maxAbsError], [4, 32, null, true, 0])
    // Element 1 of the first block: ggml's low nibble of qs[1]; element 16: the high nibble of qs[0].
    assert.equal(c.weight.packed[0]! >> 4, bytes[3]! & 15)
    assert.equal(c.weight.packed[8]! & 15, bytes[2]! >> 4)
    assertMeasured(c, W)
    await assertRunsAsDecoded(c, 'Q4_0')
  })

  it('carries Q8_0 over exactly as 8 bits, q + 128 at the default zero point 128', async () => {
    const { type, bytes, K, N, W } = golden('Q8_0')
    const c = toMatMulNBits(type, bytes, K, N)
    assert.deepEqual([c.weight.bits, c.weight.zeroPoints, c.exact], [8, null, true])
    assertMeasured(c, W)
    await assertRunsAsDecoded(c, 'Q8_0')
  })

  for (const name of ['Q4_1', 'Q4_K']) {
    it(`keeps ${name}'s codes with a float zero point per block, exact to fp32 rounding`, async () => {
      const { type, bytes, K, N, W } = golden(name)
      const c = toMatMulNBits(type, bytes, K, N)
      assert.ok(c.weight.zeroPoints instanceof Float32Array && c.blockOffsets === null)
      const e = assertMeasured(c, W)
      const scale = Math.max(...W.map(Math.abs))
      assert.ok(e.max <= 1e-6 * scale, `${name}: max error ${e.max} of ${scale}`)
      await assertRunsAsDecoded(c, name)
    })

    it(`keeps ${name}'s codes exactly with zero points 0 and block offsets`, async () => {
      const { type, bytes, K, N, W } = golden(name)
      const c = toMatMulNBits(type, bytes, K, N, { form: 'offsets' })
      assert.ok(c.weight.zeroPoints instanceof Uint8Array && c.weight.zeroPoints.every((z) => z === 0))
      assert.equal(c.blockOffsets?.length, (K / 32) * N)
      assert.equal(c.exact, true)
      assertMeasured(c, W)
      await assertRunsAsDecoded(c, `${name} offsets`)
    })

    it(`requantizes ${name} with uint8 zero points within half a step`, async () => {
      const { type, bytes, K, N, W } = golden(name)
      const c = toMatMulNBits(type, bytes, K, N, { form: 'uint8' })
      assert.ok(c.weight.zeroPoints instanceof Uint8Array && c.weight.zeroPoints.length === N * Math.ceil(K / 32 / 2))
      assertMeasured(c, W)
      assertWithinHalfStep(c, W)
      await assertRunsAsDecoded(c, `${name} uint8`)
    })
  }

  for (const name of ['Q5_0', 'Q5_1', 'Q5_K', 'Q6_K', 'F16', 'BF16']) {
    for (const form of ['float', 'uint8', 'offsets'] as const) {
      it(`requantizes ${name} to 4 bits in form ${form} within half a step`, async () => {
        const { type, bytes, K, N, W } = golden(name)
        const c = toMatMulNBits(type, bytes, K, N, { form })
        assert.equal(c.weight.bits, 4)
        assert.equal(c.exact, false)
        assertMeasured(c, W)
        assertWithinHalfStep(c, W)
        await assertRunsAsDecoded(c, `${name} ${form}`)
      })
    }
  }

  it("runs the bench writer's Q4_0 at a wider shape exactly as x · its dequantized weight", async () => {
    const K = 128
    const N = 24
    const bytes = quantizeQ4_0(new Rng(9).weights(K * N, 0.05))
    const c = toMatMulNBits(GgmlType.Q4_0, bytes, K, N)
    assert.equal(c.exact, true)
    assertMeasured(c, transpose(dequantize(GgmlType.Q4_0, bytes, K * N), N, K))
    await assertRunsAsDecoded(c, 'bench Q4_0')
  })

  it('writes an F32 weight whose K ends in a partial block', async () => {
    const K = 172
    const N = 3
    const rows = new Rng(172).weights(K * N, 0.1)
    const c = toMatMulNBits(GgmlType.F32, new Uint8Array(rows.buffer), K, N, { form: 'uint8' })
    assertMeasured(c, transpose(rows, N, K))
    assertWithinHalfStep(c, transpose(rows, N, K))
    await assertRunsAsDecoded(c, 'F32 K=172')
    assert.throws(() => toMatMulNBits(GgmlType.F32, new Uint8Array(rows.buffer), K, N, { form: 'offsets' }), { code: 'BAD_REQUEST', message: /K a multiple of 32; K = 172/ })
  })

  it('carries random Q4_0, Q8_0, Q4_1 and Q4_K bytes over exactly, whatever the scales (seeded)', () => {
    const rng = new Rng(2026)
    const byte = () => Math.floor(rng.next() * 256)
    // [type, elements and bytes per block, halves leading each block (d; or d and m / dmin)]
    const cases = [
      [GgmlType.Q4_0, 32, 18, 1],
      [GgmlType.Q8_0, 32, 34, 1],
      [GgmlType.Q4_1, 32, 20, 2],
      [GgmlType.Q4_K, 256, 144, 2],
    ] as const
    for (let trial = 0; trial < 40; trial++) {
      const [type, blockSize, typeSize, halves] = cases[trial % 4]!
      const K = 256
      const N = 3
      const bytes = Uint8Array.from({ length: ((K * N) / blockSize) * typeSize }, byte)
      // Any finite half of either sign: exponent bits (0x7c of the high byte) short of all ones.
      for (let at = 0; at < bytes.length; at += typeSize) {
        for (let h = 0; h < halves; h++) bytes[at + 2 * h + 1] = (byte() % 0x7c) | (byte() & 0x80)
      }
      const c = toMatMulNBits(type, bytes, K, N, { form: 'offsets' })
      assert.equal(c.exact, true, `trial ${trial}: max error ${c.maxAbsError}`)
      assertMeasured(c, transpose(dequantize(type, bytes, K * N), N, K))
    }
  })

  it('refuses rows that are not whole blocks and types it cannot read', () => {
    assert.throws(() => toMatMulNBits(GgmlType.Q4_K, new Uint8Array(144 * 2), 128, 4), { code: 'IMPORT_INVALID' })
    assert.throws(() => toMatMulNBits(GgmlType.Q3_K, new Uint8Array(110), 256, 1), { code: 'MODEL_UNSUPPORTED', message: /Q3_K/ })
  })
})

describe('quantizeNBits', () => {
  for (const [bits, form] of [[4, 'uint8'], [8, 'uint8'], [4, 'offsets'], [8, 'offsets']] as const) {
    it(`writes a float [K, N] weight as ${bits} bits in form ${form}${form === 'uint8' ? ', K not a multiple of 32' : ''}`, async () => {
      // Block offsets reshape x into blocks: they need whole blocks.
      const K = form === 'uint8' ? 172 : 160
      const N = 6
      const w = new Rng(bits).weights(K * N, 0.1)
      const c = quantizeNBits(w, K, N, bits, form)
      assert.ok(c.weight.zeroPoints instanceof Uint8Array)
      assert.equal(c.blockOffsets?.length ?? null, form === 'offsets' ? (K / 32) * N : null)
      assert.equal(c.weight.packed.length, N * Math.ceil(K / 32) * ((32 * bits) / 8))
      const e = assertMeasured(c, w)
      assertWithinHalfStep(c, w)
      // 8 bits has 17x finer steps than 4 over the same range.
      assert.ok(e.rms < (bits === 8 ? 0.002 : 0.02), `rms ${e.rms}`)
      await assertRunsAsDecoded(c, `${bits} bits ${form}`)
    })
  }
})
