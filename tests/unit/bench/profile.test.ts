import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { splitRuns } from '../../../tools/bench/run-profile.ts'

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
