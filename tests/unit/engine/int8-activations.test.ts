// int8 activations for 4-bit matmuls (LoadOptions.int8Activations): set on every MatMulNBits of a
// rewritten graph by default, off when asked, absent from models without 4-bit matmuls, stated in
// the model info, and close to the exact activations' logits.

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { FileSource } from '../../../src-main/engine/graph/onnx-file.ts'
import { onnx } from '../../../src-main/engine/graph/graph-edit.ts'
import { rewriteModel } from '../../../src-main/engine/graph/rewrite-model.ts'
import { loadModel, type LoadedModel } from '../../../src-main/engine/load-model.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'

const VOCAB = 512
const TOKENS = [1, 77, 300, 5, 42, 9, 511, 260, 3, 128]

let root = ''
let dir = ''
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-int8-'))
  dir = path.join(root, 'm')
  await buildModel(dir, { vocab: VOCAB, contextLength: 128, q4: true, seed: 9 })
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

/** Prefill of four, then one token at a time: the last position's logits after each pass. */
async function logits(model: LoadedModel): Promise<Float32Array[]> {
  const kv = model.session.emptyCache()
  const out = [(await model.session.forward(kv, TOKENS.slice(0, 4), { logits: 'last' })).slice()]
  for (const t of TOKENS.slice(4)) out.push((await model.session.forward(kv, [t], { logits: 'last' })).slice())
  kv.dispose()
  return out
}

describe('int8 activations', () => {
  it('set accuracy_level 4 on every 4-bit matmul of the rewritten graph, and on nothing else', () => {
    const file = path.join(dir, 'onnx', 'model_q4.onnx')
    const source = new FileSource(file)
    try {
      const on = rewriteModel(source, 'split', { lastLogits: true, int8Activations: true, location: path.basename(file) })
      const off = rewriteModel(source, 'split', { lastLogits: true, location: path.basename(file) })
      const nodes = onnx.ModelProto.decode(on.bytes).graph!.node!
      const nbits = nodes.filter((n) => n.opType === 'MatMulNBits')
      assert.ok(nbits.length > 0)
      assert.equal(on.int8Matmuls, nbits.length)
      assert.equal(off.int8Matmuls, 0)
      for (const n of nbits) assert.deepEqual(n.attribute!.filter((a) => a.name === 'accuracy_level').map((a) => Number(a.i)), [4], n.name!)
      for (const n of nodes) if (n.opType !== 'MatMulNBits') assert.ok(!(n.attribute ?? []).some((a) => a.name === 'accuracy_level'), n.name!)
      const plain = onnx.ModelProto.decode(off.bytes).graph!.node!.filter((n) => n.opType === 'MatMulNBits')
      for (const n of plain) assert.ok(!(n.attribute ?? []).some((a) => a.name === 'accuracy_level' && Number(a.i) === 4), n.name!)
    } finally {
      source.close()
    }
  })

  it('leave 8-bit matmuls (the GGUF importer\'s q8) with exact activations', () => {
    const model = onnx.ModelProto.decode(readFileSync(path.join(dir, 'onnx', 'model_q4.onnx')))
    const eight = model.graph!.node!.find((n) => n.opType === 'MatMulNBits')!
    eight.attribute = [...(eight.attribute ?? []).filter((a) => a.name !== 'bits'), { name: 'bits', type: onnx.AttributeProto.AttributeType.INT, i: 8 }]
    const rewritten = rewriteModel(onnx.ModelProto.encode(model).finish(), 'split', { lastLogits: true, int8Activations: true })
    const nodes = onnx.ModelProto.decode(rewritten.bytes).graph!.node!.filter((n) => n.opType === 'MatMulNBits')
    const level = (name: string): number[] => nodes.find((n) => n.name === name)!.attribute!.filter((a) => a.name === 'accuracy_level').map((a) => Number(a.i))
    assert.equal(rewritten.int8Matmuls, nodes.length - 1)
    assert.ok(!level(eight.name!).includes(4), 'the 8-bit matmul keeps its accuracy level')
    assert.ok(nodes.filter((n) => n.name !== eight.name).every((n) => level(n.name!).includes(4)))
  })

  it('are on by default for a q4 model, off when asked, stated in the model info, and keep the logits close', async () => {
    const on = await loadModel(dir, { variant: 'q4', providers: ['cpu'], threads: 1 })
    const off = await loadModel(dir, { variant: 'q4', providers: ['cpu'], threads: 1, int8Activations: false })
    try {
      assert.equal(on.info.int8Activations, true)
      assert.equal(on.identity.int8Activations, true)
      assert.equal(off.info.int8Activations, false)
      assert.equal(off.identity.int8Activations, false)
      const [a, b] = [await logits(on), await logits(off)]
      for (const [step, exact] of b.entries()) {
        let scale = 0
        let diff = 0
        for (let j = 0; j < exact.length; j++) {
          scale = Math.max(scale, Math.abs(exact[j]!))
          diff = Math.max(diff, Math.abs(exact[j]! - a[step]![j]!))
        }
        // int8 rows per block of 32: a few percent of the logits' scale at most on random weights.
        assert.ok(diff <= 0.05 * scale, `step ${step}: logits moved by ${diff} (scale ${scale})`)
      }
    } finally {
      await on.session.release()
      await off.session.release()
    }
  })

  it('combine with an fp16 cache, still updated in place', async () => {
    const model = await loadModel(dir, { variant: 'q4', providers: ['cpu'], threads: 1, kvDtype: 'float16' })
    try {
      assert.equal(model.info.kvUpdate, 'split', model.info.kvUpdateNotes.join('\n'))
      assert.equal(model.info.kvDtype, 'float16')
      assert.equal(model.info.int8Activations, true)
    } finally {
      await model.session.release()
    }
  })

  it('are not claimed for a model without 4-bit matmuls', async () => {
    const fp32 = await loadModel(dir, { variant: 'fp32', providers: ['cpu'], threads: 1 })
    try {
      assert.equal(fp32.info.int8Activations, false)
    } finally {
      await fp32.session.release()
    }
  })
})
