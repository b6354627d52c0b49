import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as ort from 'onnxruntime-node'
import onnxProto from 'onnx-proto'
import { readFileSync } from 'node:fs'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { halfBytes, toHalfBits, writeFp16Model } from '../../../tools/bench/gpu-fp16.ts'
import {
  agreement, classifyFailure, judge, logitsDiff, penalizedArgmax, renderGpuMarkdown,
  type GpuReport, type ProviderOutcome, type RunResult,
} from '../../../tools/bench/gpu-report.ts'

describe('agreement', () => {
  it('counts equal tokens up to the first difference and names its position', () => {
    assert.deepEqual(agreement([1, 2, 3, 4], [1, 2, 9, 4]), { agreed: 2, compared: 4, firstDivergence: 2 })
    assert.deepEqual(agreement([5, 6], [5, 6]), { agreed: 2, compared: 2, firstDivergence: null })
    assert.deepEqual(agreement([7, 8, 9], [7, 8]), { agreed: 2, compared: 2, firstDivergence: null })
    assert.deepEqual(agreement([1], [2]), { agreed: 0, compared: 1, firstDivergence: 0 })
  })
})

describe('penalizedArgmax', () => {
  it('picks the best logit after dividing positive and multiplying negative logits of seen tokens', () => {
    const logits = [1, 5, 3, -1]
    assert.equal(penalizedArgmax(logits, new Set(), 2), 1)
    assert.equal(penalizedArgmax(logits, new Set([1]), 2), 2) // 5 / 2 = 2.5 < 3
    assert.equal(penalizedArgmax(logits, new Set([1]), 1.5), 1) // 5 / 1.5 > 3
    assert.equal(penalizedArgmax([-1, -1.5], new Set([0]), 2), 1) // -1 * 2 < -1.5
  })
})

describe('logitsDiff', () => {
  it('gives the largest difference and the reference scale', () => {
    assert.deepEqual(logitsDiff([1, -4, 2], [1.5, -4, 2.25]), { maxAbsDiff: 0.5, scale: 4 })
  })
})

describe('classifyFailure', () => {
  const adapter = 'webgpu_context.cc:136 ... was false. Failed to get a WebGPU adapter: No supported adapters'
  it('calls a missing adapter unavailable, naming the loader when there is none', () => {
    const withLoader = classifyFailure('webgpu', adapter, { vulkanLoader: true })
    assert.equal(withLoader.kind, 'unavailable')
    assert.match(withLoader.reason, /found no GPU driver/)
    assert.match(classifyFailure('webgpu', adapter, { vulkanLoader: false }).reason, /libvulkan\.so\.1 is not installed/)
  })
  it('calls missing CUDA libraries unavailable and says how they are installed', () => {
    const c = classifyFailure('cuda', 'CUDA libraries are not installed (npm run setup:cuda)', { vulkanLoader: false })
    assert.equal(c.kind, 'unavailable')
    assert.match(c.reason, /setup:cuda.*internet/)
  })
  it('calls anything else a failure, with onnxruntime\'s source preamble cut', () => {
    const c = classifyFailure('webgpu', '/onnxruntime_src/x.cc:1 f() x was false. Unsupported op MatMulNBits\nmore', { vulkanLoader: true })
    assert.deepEqual(c, { kind: 'failed', reason: 'Unsupported op MatMulNBits' })
  })
})

function run(over: Partial<RunResult>): RunResult {
  return {
    provider: 'webgpu', variant: 'fp16', providerUsed: 'webgpu', referenceVariant: 'fp32',
    agreement: { agreed: 40, compared: 64, firstDivergence: 40 }, firstLogits: { maxAbsDiff: 0.05, scale: 60 },
    speed: { prefill: { 128: 5000, 512: 9000 }, decode: 210.4 }, kv: 'device', kvUpdate: 'copy', loadMs: 1500, notes: [], ...over,
  }
}
const unavailable = (provider: 'webgpu' | 'cuda'): ProviderOutcome => ({ provider, runs: [], failures: [{ variant: 'fp16', kind: 'unavailable', reason: `${provider} missing` }] })

describe('judge', () => {
  it('exits 2 when no GPU provider could run: a check that found no GPU is no pass', () => {
    const v = judge([unavailable('webgpu'), unavailable('cuda')])
    assert.equal(v.exitCode, 2)
    assert.match(v.summary, /no GPU provider available.*webgpu missing.*cuda missing/)
  })
  it('passes a GPU run whose fp16 tokens part from the CPU\'s later: fp16 rounding is reported, not judged', () => {
    assert.equal(judge([{ provider: 'webgpu', runs: [run({})], failures: [] }, unavailable('cuda')]).exitCode, 0)
  })
  it('fails fp32 that parts from the CPU early, a WebGPU cache that left the device, and a provider that broke', () => {
    const early = run({ variant: 'fp32', referenceVariant: 'fp32', agreement: { agreed: 3, compared: 64, firstDivergence: 3 } })
    assert.equal(judge([{ provider: 'webgpu', runs: [early], failures: [] }]).exitCode, 1)
    assert.equal(judge([{ provider: 'webgpu', runs: [run({ kv: 'host' })], failures: [] }]).exitCode, 1)
    const broke: ProviderOutcome = { provider: 'cuda', runs: [], failures: [{ variant: 'q4f16', kind: 'failed', reason: 'no kernel' }] }
    assert.match(judge([{ provider: 'webgpu', runs: [run({})], failures: [] }, broke]).summary, /FAILED: cuda q4f16: no kernel/)
  })
})

describe('renderGpuMarkdown', () => {
  it('shows each run with its agreement, speeds and cache, and each unavailable provider with why', () => {
    const report: GpuReport = {
      machine: { gpu: 'NVIDIA H200', cpu: 'x', node: '20', onnxruntime: '1.30.0', platform: 'linux-x64', date: 'd' },
      tokens: 64, penalty: 2,
      cpu: [run({ provider: 'cpu', variant: 'fp32', providerUsed: 'cpu', agreement: null, firstLogits: null, kv: 'host' })],
      providers: [{ provider: 'webgpu', runs: [run({})], failures: [] }, { provider: 'cuda', runs: [], failures: [{ variant: 'fp16', kind: 'unavailable', reason: 'a|b' }] }],
      verdict: { exitCode: 0, summary: 'ran on webgpu (fp16)' },
    }
    const md = renderGpuMarkdown(report, [128, 512])
    assert.match(md, /\| cpu \| fp32 \| cpu \| reference \| — \| 5000 \| 9000 \| 210 \| host \(copied each step\) \| 1\.5 \|/)
    assert.match(md, /\| webgpu \| fp16 \| webgpu \| first 40 of 64 equal to fp32 \| 0\.050 \(60\.0\) \|.*\| on the device \|/)
    assert.match(md, /\| cuda \| fp16 \| — \| not available: a\\\|b \|/)
    assert.match(md, /\*\*ran on webgpu \(fp16\)\*\*/)
  })
})

describe('toHalfBits', () => {
  it('rounds to the nearest half, ties to even, and keeps subnormals and signs', () => {
    assert.equal(toHalfBits(1), 0x3c00)
    assert.equal(toHalfBits(-2), 0xc000)
    assert.equal(toHalfBits(65504), 0x7bff)
    assert.equal(toHalfBits(1 + 2 ** -11), 0x3c00) // a tie: to the even mantissa
    assert.equal(toHalfBits(1 + 3 * 2 ** -11), 0x3c02) // a tie: up to the even one
    assert.equal(toHalfBits(2 ** -24), 0x0001)
    assert.equal(toHalfBits(0), 0)
  })
  it('clamps what float16 cannot hold to ±65504 in halfBytes, so a -FLT_MAX mask stays finite', () => {
    const out = new Uint16Array(halfBytes(new Uint8Array(new Float32Array([-3.4e38, 1e6, 0.5]).buffer)).buffer)
    assert.deepEqual([...out], [0xfbff, 0x7bff, 0x3800])
  })
})

describe('writeFp16Model', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hearth-gpu-fp16-'))
    await buildModel(dir, { shape: 'tiny', q4: true, repeatKv: true, exportedRmsNorm: true, exportedRope: true })
    writeFp16Model(dir, 'onnx/model.onnx', 'onnx/model_fp16.onnx')
    writeFp16Model(dir, 'onnx/model_q4.onnx', 'onnx/model_q4f16.onnx')
  })
  after(() => rm(dir, { recursive: true, force: true }))

  const feeds = (kv: 'float32' | 'float16', layers: number): Record<string, ort.Tensor> => {
    const ids = [1n, 77n, 300n, 5n]
    const f: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids), [1, 4]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n, 1n]), [1, 4]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 3n]), [1, 4]),
    }
    for (let l = 0; l < layers; l++) {
      for (const kind of ['key', 'value']) {
        f[`past_key_values.${l}.${kind}`] = new ort.Tensor(kv, kv === 'float32' ? new Float32Array(0) : new Uint16Array(0), [1, 2, 0, 16])
      }
    }
    return f
  }
  const logits = async (file: string, kv: 'float32' | 'float16'): Promise<Float32Array> => {
    const s = await ort.InferenceSession.create(path.join(dir, 'onnx', file), { logSeverityLevel: 3 })
    const out = (await s.run(feeds(kv, 2))).logits!
    await s.release()
    if (out.type === 'float32') return out.data as Float32Array
    const half = out.data as Uint16Array
    // float16 bits to float32 through the exponent rebias (normals and zero suffice for logits).
    return Float32Array.from(half, (h) => {
      const e = (h >> 10) & 0x1f
      const m = h & 0x3ff
      const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15)
      return h & 0x8000 ? -v : v
    })
  }

  it('takes and gives float16 (cache and logits) and keeps the rope tables and RMSNorm variances in float32', () => {
    const model = onnxProto.onnx.ModelProto.decode(readFileSync(path.join(dir, 'onnx', 'model_fp16.onnx')))
    const { FLOAT, FLOAT16 } = onnxProto.onnx.TensorProto.DataType
    const g = model.graph!
    assert.equal(g.input!.find((v) => v.name === 'past_key_values.0.key')!.type!.tensorType!.elemType, FLOAT16)
    assert.equal(g.output!.find((v) => v.name === 'logits')!.type!.tensorType!.elemType, FLOAT16)
    assert.equal(g.initializer!.find((t) => t.name === 'model.embed_tokens.weight')!.dataType, FLOAT16)
    // Float32 constants left: the inverse frequencies, cos's and sin's attention factor, and each
    // of the five norms' exponent 2 and eps (two layers of two norms, and the final one).
    const float32 = g.initializer!.filter((t) => t.dataType === FLOAT).length
    assert.equal(float32, 3 + 2 * 5)
    assert.equal(g.node!.filter((n) => n.opType === 'Pow').length, 5)
  })

  it('computes the fp32 model\'s logits to float16 precision, and q4f16 the q4 model\'s', async () => {
    for (const [from, to] of [['model.onnx', 'model_fp16.onnx'], ['model_q4.onnx', 'model_q4f16.onnx']]) {
      const reference = await logits(from!, 'float32')
      const half = await logits(to!, 'float16')
      const { maxAbsDiff, scale } = logitsDiff(reference, half)
      assert.ok(maxAbsDiff < 0.01 * scale, `${to}: ${maxAbsDiff} against a scale of ${scale}`)
      assert.ok(maxAbsDiff > 0, `${to} computed in float16, not a copy of the float32 graph`)
    }
  })
})
