import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { profileEngine, splitRuns, type PhaseProfile } from '../../../tools/bench/run-profile.ts'

describe('splitRuns', () => {
  it('puts each kernel under the model_run that contains it and sums kernels by op', () => {
    const runs = splitRuns([
      { cat: 'Session', name: 'model_run', ts: 1000, dur: 500 },
      { cat: 'Node', name: 'a_kernel_time', ts: 1100, dur: 250, args: { op_name: 'MatMul' } },
      { cat: 'Node', name: 'b_kernel_time', ts: 1400, dur: 125, args: { op_name: 'Concat' } },
      { cat: 'Node', name: 'c_fence_before', ts: 1310, dur: 50, args: { op_name: 'Concat' } },
      { cat: 'Session', name: 'model_run', ts: 2000, dur: 400 },
      { cat: 'Node', name: 'd_kernel_time', ts: 2100, dur: 375, args: { op_name: 'MatMul' } },
      { cat: 'Node', name: 'e_kernel_time', ts: 5000, dur: 999, args: { op_name: 'Gemm' } },
    ])
    assert.equal(runs.length, 2)
    assert.deepEqual(runs.map((r) => [r.modelRunMs, r.kernelMs]), [
      [0.5, 0.375],
      [0.4, 0.375],
    ])
    assert.deepEqual([...runs[0]!.byOp], [
      ['MatMul', 0.25],
      ['Concat', 0.125],
    ])
  })
})

describe('profileEngine', () => {
  let root = ''
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'hearth-profile-engine-'))
    await buildModel(path.join(root, 'm'), { vocab: 512, contextLength: 128, q4: true, seed: 5 })
  })
  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it("profiles the session the engine runs (rewritten, fused, int8 activations), a prefill chunk apart from a decode step", async () => {
    const r = await profileEngine({
      modelDir: path.join(root, 'm'),
      onnxFile: 'onnx/model_q4.onnx',
      context: 12,
      chunk: 4,
      steps: 3,
      threads: 1,
      int8Activations: true,
    })
    assert.equal(r.precision, 'q4')
    assert.equal(r.kvUpdate, 'split')
    assert.equal(r.int8Activations, true)
    const ops = (p: PhaseProfile) => p.kernels.map((k) => k.op)
    assert.ok(r.fusions.some((f) => f.startsWith('rotary embedding')), r.fusions.join())
    // The rewritten graph's kernels, not the export's: the engine's own RoPE fusion beside the 4-bit matmuls.
    for (const p of [r.prefillChunk, r.decode]) {
      assert.ok(ops(p).includes('MatMulNBits'), ops(p).join())
      assert.ok(ops(p).includes('RotaryEmbedding'), ops(p).join())
      assert.ok(p.kernelMs > 0 && p.kernelMs <= p.modelRunMs, `${p.kernelMs} of ${p.modelRunMs}`)
      assert.ok(p.modelRunMs <= p.wallMs + 1, `${p.modelRunMs} vs ${p.wallMs}`)
    }
  })
})
