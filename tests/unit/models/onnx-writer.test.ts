// The decoder writer with what real models bring: q/k/v biases, an untied lm_head, MatMulNBits
// weights of 4 and 8 bits with zero points in both forms, scaled rope frequencies; and the
// engine's load-time rewrites applying to what it writes.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import onnxProto from 'onnx-proto'
import { writeDecoder, type DecoderShape } from '../../../src-main/models/onnx-writer/decoder-graph.ts'
import { ropeInvFreq, type RopeScaling } from '../../../src-main/models/onnx-writer/rope.ts'
import type { DecoderWeightSource, MatMulWeight, NBitsWeight } from '../../../src-main/models/onnx-writer/weights.ts'
import { openSession } from '../../../src-main/engine/open-session.ts'
import type { ModelSession, SessionOptions } from '../../../src-main/engine/session.ts'
import { RandomWeights } from '../../../tools/model-builder/random-weights.ts'

const SHAPE: DecoderShape = {
  layers: 2, hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, vocab: 512,
  ropeTheta: 10000, rmsEps: 1e-5, qkvBias: true,
}
const SESSION: SessionOptions = { provider: 'cpu', threads: 1, contextLength: 64, kvHeads: 2, headDim: 16, vocab: 512 }
const PROMPT = [1, 77, 300, 5, 42]
const STEPS = 8

/** How a test quantizes: bits, block size, and the zero points' form ('none': the kernel's default). */
interface Plan {
  bits: 4 | 8
  blockSize: number
  zeroPoints: 'packed' | 'float' | 'none'
  /** Whole-code zero points in the float form too (always so when packed). */
  wholeZeroPoints?: boolean
  /** Blocks spanning their own min..max, the default zero point, and the min carried as a block offset (GGUF's Q4_1, Q4_K). */
  offsets?: boolean
}

/**
 * RandomWeights' fp32 values (biased, untied), block-quantized by `plan` asymmetrically, as a
 * GGUF's Q4_1 blocks are: or, `dequantized`, the very values those blocks stand for, as floats.
 */
class QuantizedWeights implements DecoderWeightSource {
  private base = new RandomWeights({ seed: 5, format: 'fp32', q4BlockSize: 32, untied: true })
  constructor(
    private plan: Plan,
    private dequantized: boolean,
  ) {}

  matmul(name: string, K: number, N: number): MatMulWeight {
    return this.quantize(this.base.matmul(name, K, N), K, N)
  }

  vector(name: string, n: number): Float32Array {
    return this.base.vector(name, n)
  }

  embedding(V: number, H: number): Float32Array {
    return this.base.embedding(V, H)
  }

  lmHead(H: number, V: number): MatMulWeight | null {
    return this.quantize(this.base.lmHead(H, V)!, H, V)
  }

  private quantize(w: MatMulWeight, K: number, N: number): MatMulWeight {
    assert.equal(w.kind, 'float')
    const q = quantize(w.data, K, N, this.plan)
    return this.dequantized ? { kind: 'float', data: dequantize(q) } : { kind: 'nbits', weight: q }
  }
}

/** Min/max per block; w = (q - zeroPoint) * scale, the zero point rounded unless it stays a float. */
function quantize(w: Float32Array, K: number, N: number, { bits, blockSize, zeroPoints, wholeZeroPoints, offsets }: Plan): NBitsWeight {
  const kBlocks = Math.ceil(K / blockSize)
  const top = 2 ** bits - 1
  const packed = new Uint8Array((N * kBlocks * blockSize * bits) / 8)
  const scales = new Float32Array(N * kBlocks)
  const zp = new Float32Array(N * kBlocks)
  const blockOffsets = offsets ? new Float32Array(kBlocks * N) : null
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const values = Array.from({ length: blockSize }, (_, i) => w[(b * blockSize + i) * N + n]!)
      const [lo, hi] = offsets ? [Math.min(...values), Math.max(...values)] : [Math.min(0, ...values), Math.max(0, ...values)]
      const j = n * kBlocks + b
      scales[j] = (hi - lo) / top || 1
      zp[j] = zeroPoints === 'none' ? 2 ** (bits - 1) : zeroPoints === 'float' && !wholeZeroPoints ? -lo / scales[j]! : Math.round(-lo / scales[j]!)
      // w = code * scale + lo = (code - zp) * scale + offset
      if (blockOffsets) blockOffsets[b * N + n] = lo + zp[j]! * scales[j]!
      const shift = blockOffsets ? blockOffsets[b * N + n]! : 0
      values.forEach((v, i) => {
        const q = Math.min(top, Math.max(0, Math.round((v - shift) / scales[j]! + zp[j]!)))
        const at = j * blockSize + i
        if (bits === 8) packed[at] = q
        else packed[at >> 1]! |= (i & 1) === 0 ? q : q << 4
      })
    }
  }
  let zeroPointData: NBitsWeight['zeroPoints'] = null
  if (zeroPoints === 'float') zeroPointData = zp
  if (zeroPoints === 'packed') {
    const row = Math.ceil((kBlocks * bits) / 8)
    const bytes = new Uint8Array(N * row)
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < kBlocks; b++) {
        const z = zp[n * kBlocks + b]!
        if (bits === 8) bytes[n * row + b] = z
        else bytes[n * row + (b >> 1)]! |= (b & 1) === 0 ? z : z << 4
      }
    }
    zeroPointData = bytes
  }
  return { bits, blockSize, K, N, packed, scales, zeroPoints: zeroPointData, blockOffsets }
}

/** [K, N] floats of an NBitsWeight, read back from its packed form. */
function dequantize({ bits, blockSize, K, N, packed, scales, zeroPoints, blockOffsets }: NBitsWeight): Float32Array {
  const kBlocks = Math.ceil(K / blockSize)
  const row = Math.ceil((kBlocks * bits) / 8)
  const code = (bytes: Uint8Array, at: number): number => (bits === 8 ? bytes[at]! : (bytes[at >> 1]! >> ((at & 1) * 4)) & 15)
  const out = new Float32Array(K * N)
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const j = n * kBlocks + Math.floor(k / blockSize)
      const zp =
        zeroPoints instanceof Float32Array ? zeroPoints[j]!
        : zeroPoints ? code(zeroPoints, n * row * (8 / bits) + Math.floor(k / blockSize))
        : 2 ** (bits - 1)
      const offset = blockOffsets ? blockOffsets[Math.floor(k / blockSize) * N + n]! : 0
      out[k * N + n] = (code(packed, j * blockSize + (k % blockSize)) - zp) * scales[j]! + offset
    }
  }
  return out
}

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-onnx-writer-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

async function write(name: string, source: DecoderWeightSource, shape: DecoderShape = SHAPE): Promise<string> {
  const dir = path.join(root, name)
  await mkdir(dir, { recursive: true })
  writeDecoder(dir, 'model.onnx', shape, source)
  return path.join(dir, 'model.onnx')
}

/** Greedy decoding: the tokens picked and the logits each pick came from. */
async function greedy(session: ModelSession): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const kv = session.emptyCache()
  const tokens: number[] = []
  const logits: Float32Array[] = []
  let next = PROMPT
  for (let i = 0; i < STEPS; i++) {
    const out = (await session.forward(kv, next, { logits: 'last' })).slice()
    logits.push(out)
    tokens.push(out.indexOf(Math.max(...out)))
    next = [tokens.at(-1)!]
  }
  return { tokens, logits }
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let max = 0
  a.forEach((x, i) => x.forEach((v, j) => (max = Math.max(max, Math.abs(v - b[i]![j]!)))))
  return max
}

describe('writeDecoder', () => {
  it('writes a biased, untied, 4-bit model with zero points that the engine rewrites, fuses, and decodes as the export', async () => {
    const file = await write('q4-zp', new QuantizedWeights({ bits: 4, blockSize: 32, zeroPoints: 'packed' }, false))
    const nodes = onnxProto.onnx.ModelProto.decode(await readFile(file)).graph!.node!
    const reading = (value: string): string[] => nodes.filter((n) => n.input!.includes(value)).map((n) => n.opType!)
    assert.deepEqual(reading('model.layers.1.self_attn.k_proj.bias'), ['Add'])
    assert.deepEqual(nodes.find((n) => n.output!.includes('logits'))!.input!.slice(1), ['lm_head.weight.q4', 'lm_head.weight.scales', 'lm_head.weight.zero_points'])
    const split = await openSession(file, SESSION)
    const copy = await openSession(file, { ...SESSION, kvUpdate: 'copy' })
    try {
      assert.equal(split.kvUpdate, 'split', split.kvUpdateNotes.join('; '))
      assert.deepEqual(split.kvUpdateNotes, [])
      // Both layers' query and key rotations; the residual Add before each layer's second norm and the final one.
      assert.deepEqual(split.fusions, ['rotary embedding ×4', 'residual add + RMSNorm ×4'])
      assert.equal(copy.kvUpdate, 'copy')
      const a = await greedy(split)
      const b = await greedy(copy)
      assert.deepEqual(a.tokens, b.tokens)
      // Measured 3e-6 against logits of scale ~10; a masking or position error moves them by ~1.
      assert.ok(maxAbsDiff(a.logits, b.logits) < 1e-4, `max abs diff ${maxAbsDiff(a.logits, b.logits)}`)
    } finally {
      await split.release()
      await copy.release()
    }
  })

  // Each form against fp32 weights of the values its blocks stand for: measured at most 6e-6
  // against logits of scale ~10. A code or zero point misread (nibble order, the default zero point,
  // float against packed) moves them by far more.
  const PLANS: Plan[] = [
    { bits: 4, blockSize: 32, zeroPoints: 'packed' },
    { bits: 4, blockSize: 16, zeroPoints: 'float' },
    { bits: 4, blockSize: 64, zeroPoints: 'none' },
    { bits: 8, blockSize: 32, zeroPoints: 'packed' },
    { bits: 8, blockSize: 32, zeroPoints: 'float', wholeZeroPoints: true },
    { bits: 8, blockSize: 16, zeroPoints: 'none' },
    { bits: 4, blockSize: 32, zeroPoints: 'none', offsets: true },
  ]
  for (const plan of PLANS) {
    const zeroPoints = `${plan.wholeZeroPoints ? 'whole ' : ''}${plan.zeroPoints}${plan.offsets ? ' with block offsets' : ''}`
    it(`gives the logits of its dequantized weights: ${plan.bits} bits, blocks of ${plan.blockSize}, zero points ${zeroPoints}`, async () => {
      const name = `${plan.bits}-${plan.blockSize}-${zeroPoints.replaceAll(' ', '-')}`
      const quantized = await openSession(await write(name, new QuantizedWeights(plan, false)), { ...SESSION, kvUpdate: 'copy' })
      const floats = await openSession(await write(`${name}-fp32`, new QuantizedWeights(plan, true)), { ...SESSION, kvUpdate: 'copy' })
      try {
        const a = await greedy(quantized)
        const b = await greedy(floats)
        assert.deepEqual(a.tokens, b.tokens)
        assert.ok(maxAbsDiff(a.logits, b.logits) < 1e-4, `max abs diff ${maxAbsDiff(a.logits, b.logits)}`)
      } finally {
        await quantized.release()
        await floats.release()
      }
    })
  }

  it('refuses 8-bit weights with fractional zero points, which onnxruntime cannot run', async () => {
    const plan: Plan = { bits: 8, blockSize: 32, zeroPoints: 'float' }
    await assert.rejects(write('8-bit-fractional', new QuantizedWeights(plan, false)), /q_proj\.weight: 8-bit weights with fractional zero points/)
  })

  it('writes the scaled rope frequencies into the graph', async () => {
    const scaling: RopeScaling = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 64 }
    const file = await write('llama3-rope', new RandomWeights({ seed: 1, format: 'fp32', q4BlockSize: 32 }), { ...SHAPE, ropeScaling: scaling })
    const graph = onnxProto.onnx.ModelProto.decode(await readFile(file)).graph!
    const expected = Float32Array.from(ropeInvFreq(SHAPE.headDim, SHAPE.ropeTheta, scaling))
    const written = graph.initializer!.filter((t) => t.dims?.length === 1 && Number(t.dims[0]) === SHAPE.headDim / 2 && t.rawData)
    assert.ok(written.some((t) => Buffer.from(t.rawData!).equals(Buffer.from(expected.buffer))))
    assert.notDeepEqual(expected, Float32Array.from(ropeInvFreq(SHAPE.headDim, SHAPE.ropeTheta)))
  })

  it('names the tensor a source gets wrong', async () => {
    const base = new RandomWeights({ seed: 1, format: 'fp32', q4BlockSize: 32 })
    const short: DecoderWeightSource = {
      matmul: (name, K, N) => base.matmul(name, K, N),
      vector: (name, n) => (name.endsWith('k_proj.bias') ? new Float32Array(n - 1) : base.vector(name, n)),
      embedding: (V, H) => base.embedding(V, H),
      lmHead: () => null,
    }
    await assert.rejects(write('short', short), /model\.layers\.0\.self_attn\.k_proj\.bias: 31 values where 32 were expected/)
  })
})

describe('ropeInvFreq', () => {
  const D = 128
  const theta = 500000
  it('divides every frequency by a linear factor', () => {
    const base = ropeInvFreq(D, theta)
    assert.equal(base[0], 1)
    assert.deepEqual(ropeInvFreq(D, theta, { type: 'linear', factor: 4 }), base.map((f) => f / 4))
  })

  it("scales as llama3 the way llama.cpp's per-frequency factors do", () => {
    const p = { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 }
    // convert_hf_to_gguf.py's rope_freqs for Llama 3.1: a divisor per frequency.
    const factors = Float32Array.from(ropeInvFreq(D, theta), (f) => {
      const wavelen = (2 * Math.PI) / f
      if (wavelen < p.originalContextLength / p.highFreqFactor) return 1
      if (wavelen > p.originalContextLength / p.lowFreqFactor) return p.factor
      const smooth = (p.originalContextLength / wavelen - p.lowFreqFactor) / (p.highFreqFactor - p.lowFreqFactor)
      return 1 / ((1 - smooth) / p.factor + smooth)
    })
    const llama3 = ropeInvFreq(D, theta, { type: 'llama3', ...p })
    const fromFactors = ropeInvFreq(D, theta, { type: 'factors', factors })
    llama3.forEach((f, i) => assert.ok(Math.abs(f - fromFactors[i]!) <= 1e-6 * f, `frequency ${i}: ${f} vs ${fromFactors[i]}`))
    assert.equal(llama3[0], 1, 'the highest frequency is kept')
    assert.equal(llama3.at(-1), ropeInvFreq(D, theta).at(-1)! / 8, 'the lowest is divided by the factor')
    assert.ok(factors.some((f) => f > 1 && f < 8), 'some are blended')
  })
})
