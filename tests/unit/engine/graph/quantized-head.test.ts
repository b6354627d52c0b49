// A q4 export's lm_head: MatMulNBits over its own quantized copy of the tied embedding table, as
// onnxruntime's quantizer leaves it in model_q4.onnx. The load-time rewrites must take it: the
// last-logits Slice goes before it, and the rewritten graph computes what the export does.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import onnxProto from 'onnx-proto'
import * as ort from 'onnxruntime-node'
import { buildModel } from '../../../../tools/model-builder/build-model.ts'
import { openSession } from '../../../../src-main/engine/open-session.ts'
import type { SessionOptions } from '../../../../src-main/engine/session.ts'
import { rewriteModel } from '../../../../src-main/engine/graph/rewrite-model.ts'

const { onnx } = onnxProto

const TOKENS = [1, 77, 300, 5, 42, 42, 9, 511, 260]
const PREFILL = 5
const VOCAB = 512
const LAYERS = 2
const SESSION: SessionOptions = { provider: 'cpu', threads: 1, contextLength: 64, kvHeads: 2, headDim: 16, vocab: VOCAB }

let root: string
let file: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-q4-head-'))
  // As the bench writes it: Optimum's patterns, no num_logits_to_keep (the engine adds it).
  await buildModel(root, { vocab: VOCAB, contextLength: 64, q4: true, repeatKv: true, exportedRmsNorm: true, exportedRope: true })
  file = path.join(root, 'onnx', 'model_q4.onnx')
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

/** The export as it is, run by onnxruntime: prefill, then one token a step, the last position's logits each time. */
async function exportLogits(): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3, intraOpNumThreads: 1 })
  try {
    const int64 = (values: number[]): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length])
    let past: Record<string, ort.Tensor> = {}
    for (let l = 0; l < LAYERS; l++) {
      for (const role of ['key', 'value']) past[`past_key_values.${l}.${role}`] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 16])
    }
    const out: Float32Array[] = []
    let done = 0
    for (const step of [TOKENS.slice(0, PREFILL), ...TOKENS.slice(PREFILL).map((t) => [t])]) {
      const result = await session.run({
        input_ids: int64(step),
        attention_mask: int64(new Array(done + step.length).fill(1)),
        position_ids: int64(step.map((_, i) => done + i)),
        ...past,
      })
      const logits = result.logits!.data as Float32Array
      out.push(logits.slice((step.length - 1) * VOCAB))
      done += step.length
      past = {}
      for (let l = 0; l < LAYERS; l++) {
        for (const role of ['key', 'value']) past[`past_key_values.${l}.${role}`] = result[`present.${l}.${role}`]!
      }
    }
    return out
  } finally {
    await session.release()
  }
}

describe('a MatMulNBits lm_head (model_q4.onnx)', () => {
  it('is what the builder writes: the head a MatMulNBits over [hidden, vocab], the embedding an fp32 Gather', async () => {
    const graph = onnx.ModelProto.decode(await readFile(file)).graph!
    const nbits = graph.node!.filter((n) => n.opType === 'MatMulNBits')
    // 7 projections a layer, and the head.
    assert.equal(nbits.length, 7 * LAYERS + 1)
    const head = nbits.find((n) => n.input![1] === 'lm_head.weight.q4')
    assert.ok(head, 'a MatMulNBits reads lm_head.weight.q4')
    const attr = (name: string): number => Number(head.attribute!.find((a) => a.name === name)!.i)
    assert.deepEqual([attr('K'), attr('N'), attr('bits'), attr('block_size')], [64, VOCAB, 4, 32])
    assert.equal(graph.node!.filter((n) => n.opType === 'Gemm' || n.opType === 'MatMul').length, 2 * LAYERS, 'only attention MatMuls remain')
    const gather = graph.node!.find((n) => n.opType === 'Gather' && n.input![0] === 'model.embed_tokens.weight')
    assert.ok(gather, 'the embedding is gathered')
    const table = graph.initializer!.find((t) => t.name === 'model.embed_tokens.weight')!
    assert.equal(table.dataType, onnx.TensorProto.DataType.FLOAT)
  })

  it('gets the last-logits Slice right before it, and int8 activations like every 4-bit matmul', async () => {
    const rewritten = rewriteModel(await readFile(file), 'split', { lastLogits: true, int8Activations: true })
    assert.equal(rewritten.logitsNote, null)
    assert.equal(rewritten.int8Matmuls, 7 * LAYERS + 1)
    const nodes = onnx.ModelProto.decode(rewritten.bytes).graph!.node!
    const head = nodes.find((n) => n.opType === 'MatMulNBits' && n.input![1] === 'lm_head.weight.q4')!
    assert.equal(Number(head.attribute!.find((a) => a.name === 'accuracy_level')?.i), 4)
    const slice = nodes.find((n) => n.output!.includes(head.input![0]!))
    assert.equal(slice?.opType, 'Slice')
    assert.equal(slice.input![1], 'num_logits_to_keep/hearth_start')
  })

  it('loads with every rewrite verified, and decodes as the export does', async () => {
    const session = await openSession(file, SESSION)
    try {
      assert.equal(session.kvUpdate, 'split', session.kvUpdateNotes.join('; '))
      assert.deepEqual(session.kvUpdateNotes, [])
      assert.deepEqual(session.fusions, ['rotary embedding ×4', 'residual add + RMSNorm ×4'])
      assert.deepEqual(session.sig.logitsToKeep, { name: 'num_logits_to_keep', type: 'int64' })
      const want = await exportLogits()
      const kv = session.emptyCache()
      const got = [(await session.forward(kv, TOKENS.slice(0, PREFILL), { logits: 'last' })).slice()]
      for (const t of TOKENS.slice(PREFILL)) got.push((await session.forward(kv, [t], { logits: 'last' })).slice())
      let diff = 0
      got.forEach((row, step) => {
        assert.equal(row.length, VOCAB)
        for (let i = 0; i < VOCAB; i++) diff = Math.max(diff, Math.abs(row[i]! - want[step]![i]!))
      })
      console.log(`# q4 head: rewritten vs export max abs diff ${diff.toExponential(2)}`)
      // The split attention and the fusions reorder sums (~1e-5 at fp32); a wrong position or a
      // head reading the wrong row moves logits by ~1.
      assert.ok(diff < 1e-4, `max abs diff ${diff}`)
    } finally {
      await session.release()
    }
  })
})
