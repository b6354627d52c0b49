// Models whose weights are inline in the .onnx file, as torch.onnx writes any model under 2 GB
// (SmolLM2's and Qwen2.5-0.5B's model.onnx and model_q4.onnx): the rewrite refers to the weights
// where they lie in that file instead of copying them, and the model computes the same logits as
// the same weights kept in external data.

import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { FileSource, OnnxFile } from '../../../../src-main/engine/graph/onnx-file.ts'
import { onnx, type ITensorProto } from '../../../../src-main/engine/graph/graph-edit.ts'
import { rewriteModel } from '../../../../src-main/engine/graph/rewrite-model.ts'
import { openSession } from '../../../../src-main/engine/open-session.ts'
import type { SessionOptions } from '../../../../src-main/engine/session.ts'
import { buildModel } from '../../../../tools/model-builder/build-model.ts'

const VOCAB = 512
const CONTEXT = 64
const TOKENS = [1, 77, 300, 5, 42, 9, 511, 260]
const SESSION: SessionOptions = { provider: 'cpu', threads: 1, contextLength: CONTEXT, kvHeads: 2, headDim: 16, vocab: VOCAB }
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL

let root = ''
let externalFile = ''
let inlineFile = ''

/**
 * `file`'s external data moved into the file, each tensor's bytes as its raw_data; `explicitDefault`
 * also writes data_location DEFAULT, as some writers do.
 */
async function inline(file: string, out: string, explicitDefault: boolean): Promise<void> {
  const model = onnx.ModelProto.decode(await readFile(file))
  const data = await readFile(`${file}_data`)
  for (const t of model.graph!.initializer!) {
    if (t.dataLocation !== EXTERNAL) continue
    const entry = Object.fromEntries(t.externalData!.map((e) => [e.key, e.value]))
    const offset = Number(entry.offset ?? 0)
    t.rawData = data.subarray(offset, offset + Number(entry.length))
    t.externalData = []
    if (explicitDefault) t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT
    else delete (t as { dataLocation?: unknown }).dataLocation
  }
  await writeFile(out, onnx.ModelProto.encode(model).finish())
}

function large(model: ReturnType<typeof onnx.ModelProto.decode>): ITensorProto[] {
  return model.graph!.initializer!.filter((t) => t.dataLocation === EXTERNAL)
}

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-inline-'))
  await buildModel(path.join(root, 'm'), { vocab: VOCAB, contextLength: CONTEXT, seed: 5 })
  externalFile = path.join(root, 'm', 'onnx', 'model.onnx')
  inlineFile = path.join(root, 'm', 'onnx', 'inline.onnx')
  await inline(externalFile, inlineFile, false)
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('inline weights', () => {
  for (const explicitDefault of [false, true]) {
    it(`are referenced where they lie in the file, not copied${explicitDefault ? ' (data_location DEFAULT written out)' : ''}`, async () => {
      const file = explicitDefault ? path.join(root, 'm', 'onnx', 'inline-default.onnx') : inlineFile
      if (explicitDefault) await inline(externalFile, file, true)
      const bytes = await readFile(file)
      const original = onnx.ModelProto.decode(bytes)
      const source = new FileSource(file)
      try {
        const rewritten = rewriteModel(source, 'split', { lastLogits: true, fuse: true, location: path.basename(file) })
        assert.ok(rewritten.bytes.length < bytes.length / 10, `${rewritten.bytes.length} bytes rewritten of ${bytes.length}`)
        const refs = large(onnx.ModelProto.decode(rewritten.bytes))
        const weights = original.graph!.initializer!.filter((t) => (t.rawData?.length ?? 0) > 4096)
        assert.ok(weights.length > 0)
        assert.deepEqual(refs.map((t) => t.name).sort(), weights.map((t) => t.name).sort())
        for (const ref of refs) {
          const entry = Object.fromEntries(ref.externalData!.map((e) => [e.key, e.value]))
          assert.equal(entry.location, path.basename(file))
          const at = Number(entry.offset)
          const want = weights.find((t) => t.name === ref.name)!
          assert.deepEqual(bytes.subarray(at, at + Number(entry.length)), Buffer.from(want.rawData!), ref.name!)
          assert.deepEqual(ref.dims!.map(Number), want.dims!.map(Number))
          assert.equal(ref.dataType, want.dataType)
        }
      } finally {
        source.close()
      }
    })
  }

  it('are copied as they are without a location, read from the file or from memory alike', async () => {
    const bytes = new Uint8Array(await readFile(inlineFile))
    const source = new FileSource(inlineFile)
    try {
      const fromFile = new OnnxFile(source).encode({ contribOps: false })
      const fromMemory = new OnnxFile(bytes).encode({ contribOps: false })
      assert.deepEqual(Buffer.from(fromFile), Buffer.from(fromMemory))
      const plain = { bytes: Array, longs: String }
      assert.deepEqual(onnx.ModelProto.toObject(onnx.ModelProto.decode(fromFile), plain), onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), plain))
    } finally {
      source.close()
    }
  })

  it('give the same logits as the same weights in external data, step by step', async () => {
    const sessions = [await openSession(externalFile, SESSION), await openSession(inlineFile, SESSION)]
    try {
      const logits = []
      for (const s of sessions) {
        assert.equal(s.kvUpdate, 'split')
        const kv = s.emptyCache()
        const steps = [(await s.forward(kv, TOKENS.slice(0, 4), { logits: 'last' })).slice()]
        for (const t of TOKENS.slice(4)) steps.push((await s.forward(kv, [t], { logits: 'last' })).slice())
        kv.dispose()
        logits.push(steps)
      }
      assert.deepEqual(logits[1], logits[0])
    } finally {
      for (const s of sessions) await s.release()
    }
  })

  it('a file that ends inside a weight is refused with an error, not read past its end', async () => {
    const bytes = await readFile(inlineFile)
    const cut = path.join(root, 'm', 'onnx', 'cut.onnx')
    await writeFile(cut, bytes.subarray(0, bytes.length - 1000))
    const source = new FileSource(cut)
    try {
      assert.throws(() => new OnnxFile(source, { location: 'cut.onnx' }), /past/)
    } finally {
      source.close()
    }
  })
})
