// The rotary fusion on cos_cached / sin_cached tables gathered by position_ids (transformers 4.35-4.37
// exports): fused only when every row of each table has equal halves, read from the file, and
// decoding as the export does.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import onnxProto from 'onnx-proto'
import { buildModel, type BuildOptions } from '../../../../tools/model-builder/build-model.ts'
import { fuseRotary } from '../../../../src-main/engine/graph/fuse-rotary.ts'
import { ConstantReader } from '../../../../src-main/engine/graph/graph-edit.ts'
import { rewriteModel } from '../../../../src-main/engine/graph/rewrite-model.ts'
import { floatTensorBytes } from '../../../../src-main/engine/graph/tensor-bytes.ts'
import { openSession } from '../../../../src-main/engine/open-session.ts'
import type { ModelSession, SessionOptions } from '../../../../src-main/engine/session.ts'

const { onnx } = onnxProto
type IGraphProto = onnxProto.onnx.IGraphProto
type INodeProto = onnxProto.onnx.INodeProto

const HEAD_DIM = 16
const LAYERS = 2
// 128 rows of 16 floats: 8 KiB a table, above what the rewrite decodes with the graph.
const ROWS = 128
const SESSION: SessionOptions = { provider: 'cpu', threads: 1, contextLength: ROWS, kvHeads: 2, headDim: HEAD_DIM, vocab: 512 }

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-rotary-cached-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

async function build(name: string, opts: Partial<BuildOptions> = {}): Promise<string> {
  const dir = path.join(root, name)
  await buildModel(dir, { vocab: 512, contextLength: ROWS, layers: LAYERS, cachedRope: true, exportedRope: true, ...opts })
  return path.join(dir, 'onnx', 'model.onnx')
}

/** The whole model decoded, `mutate`d, then fuseRotary's count on its graph (tables read from `dir` unless null). */
async function fusedSites(file: string, mutate: (graph: IGraphProto, producer: (v: string) => INodeProto) => void, dir: string | null = path.dirname(file)): Promise<number> {
  const graph = onnx.ModelProto.decode(await readFile(file)).graph!
  const producer = (v: string): INodeProto => graph.node!.find((n) => n.output!.includes(v))!
  mutate(graph, producer)
  return fuseRotary(graph, new ConstantReader(graph, [], { tensor: () => null, externalDir: dir }), 17, HEAD_DIM)
}

const gathers = (graph: IGraphProto): INodeProto[] => graph.node!.filter((n) => n.opType === 'Gather' && n.input![1] === 'position_ids')

async function decode(s: ModelSession): Promise<Float32Array[]> {
  // Positions far into the table too: each gathers another row.
  const tokens = Array.from({ length: 60 }, (_, i) => (i * 37 + 11) % 512)
  const kv = s.emptyCache()
  const out = [(await s.forward(kv, tokens.slice(0, 40), { logits: 'last' })).slice()]
  for (const t of tokens.slice(40)) out.push((await s.forward(kv, [t], { logits: 'last' })).slice())
  kv.dispose()
  return out
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let diff = 0
  for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i]!.length; j++) diff = Math.max(diff, Math.abs(a[i]![j]! - b[i]![j]!))
  return diff
}

describe('fuseRotary on cached tables', () => {
  for (const [what, opts] of [
    ['rotate_half by Slices, inline Constant nodes as torch.onnx places them', { inlineConstants: true, exportedRmsNorm: true, repeatKv: true }],
    ['rotate_half by Split', { exportedRope: false }],
  ] as const) {
    it(`decodes as the export does, and the session says it fused every rotation: ${what}`, async () => {
      const file = await build(`decode-${what.replace(/\W+/g, '-')}`, opts)
      const fused = await openSession(file, SESSION)
      const exported = await openSession(file, { ...SESSION, kvUpdate: 'copy' })
      try {
        assert.deepEqual(fused.kvUpdateNotes, [])
        assert.equal(fused.kvUpdate, 'split')
        assert.equal(fused.fusions[0], `rotary embedding ×${2 * LAYERS}`)
        const diff = maxDiff(await decode(fused), await decode(exported))
        assert.ok(diff < 1e-4, `max abs diff ${diff}`)
      } finally {
        await fused.release()
        await exported.release()
      }
    })
  }

  it('refuses look-alikes: a table whose last row has unequal halves, rows gathered by another index or along the last axis, a table sliced on its last axis, a table it cannot read', async () => {
    const file = await build('look-alikes')
    assert.equal(await fusedSites(file, () => {}), 2 * LAYERS)

    // Only the last row differs, a position no test decodes: the check reads every row.
    const unequal = await fusedSites(file, (graph) => {
      const table = graph.initializer!.find((t) => t.name === 'cos_cached')!
      const values = new Float32Array(new Uint8Array(floatTensorBytes(table, path.dirname(file))!.bytes).buffer)
      values[values.length - 1] = values[values.length - 1]! + 1e-3
      Object.assign(table, { dataLocation: onnx.TensorProto.DataLocation.DEFAULT, externalData: [], rawData: new Uint8Array(values.buffer) })
    })
    assert.equal(unequal, 0)

    // Rows gathered by something other than the position_ids input: left alone.
    const otherIndex = await fusedSites(file, (graph) => {
      const gather = gathers(graph)[0]!
      graph.node!.splice(graph.node!.indexOf(gather), 0, { opType: 'Identity', input: ['position_ids'], output: ['positions_copy'] })
      gather.input![1] = 'positions_copy'
    })
    assert.equal(otherIndex, 0)

    // Gathered along the last axis: columns, not rows.
    const columns = await fusedSites(file, (graph) => {
      const gather = gathers(graph)[0]!
      gather.attribute = [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }]
    })
    assert.equal(columns, 0)

    // A table sliced on its last axis before the Gather: its rows are no longer whole.
    const slicedLast = await fusedSites(file, (graph, producer) => {
      const slice = producer(gathers(graph)[0]!.input![0]!)
      assert.equal(slice.opType, 'Slice')
      graph.initializer!.push({ name: 'axes_last', dataType: onnx.TensorProto.DataType.INT64, dims: [1], rawData: new Uint8Array(BigInt64Array.of(-1n).buffer) })
      slice.input![3] = 'axes_last'
    })
    assert.equal(slicedLast, 0)

    // The tables' external data cannot be read: nothing is assumed about them.
    assert.equal(await fusedSites(file, () => {}, null), 0)
  })

  it('reads a large table by name from the file, inline or from external data, and fuses nothing it could not read', async () => {
    const file = await build('rewrite')
    const bytes = await readFile(file)
    assert.equal(rewriteModel(bytes, 'split', { fuse: true, externalDataDir: path.dirname(file) }).fused.rotary, 2 * LAYERS)
    assert.equal(rewriteModel(bytes, 'split', { fuse: true }).fused.rotary, 0)

    // The same model with its tables stored inline in the .onnx file.
    const model = onnx.ModelProto.decode(bytes)
    for (const table of model.graph!.initializer!.filter((t) => t.name!.endsWith('_cached'))) {
      const raw = new Uint8Array(floatTensorBytes(table, path.dirname(file))!.bytes)
      Object.assign(table, { dataLocation: onnx.TensorProto.DataLocation.DEFAULT, externalData: [], rawData: raw })
    }
    const inline = onnx.ModelProto.encode(model).finish()
    assert.equal(rewriteModel(inline, 'split', { fuse: true }).fused.rotary, 2 * LAYERS)
  })
})
