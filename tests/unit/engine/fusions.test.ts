// Runs of small kernels fused into onnxruntime's contrib kernels at load: rotary embeddings into
// RotaryEmbedding, residual Adds with their RMSNorms into SkipSimplifiedLayerNormalization. What
// is fused, what is refused, and that a fused graph computes what the export does.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import onnxProto from 'onnx-proto'
import * as ort from 'onnxruntime-node'
import { buildModel, type BuildOptions } from '../../../tools/model-builder/build-model.ts'
import { fuseRotary } from '../../../src-main/engine/fuse-rotary.ts'
import { fuseSkipNorm } from '../../../src-main/engine/fuse-skip-norm.ts'
import { ConstantValues } from '../../../src-main/engine/graph-edit.ts'
import { rewriteModel } from '../../../src-main/engine/kv-rewrite.ts'
import { ModelSession, type SessionOptions } from '../../../src-main/engine/session.ts'

const { onnx } = onnxProto
type IGraphProto = onnxProto.onnx.IGraphProto

const HEAD_DIM = 16
const LAYERS = 2
const SESSION: SessionOptions = { provider: 'cpu', threads: 1, contextLength: 64, kvHeads: 2, headDim: HEAD_DIM, vocab: 512 }

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-fuse-rotary-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

async function build(name: string, opts: Partial<BuildOptions>): Promise<string> {
  const dir = path.join(root, name)
  await buildModel(dir, { vocab: 512, contextLength: 64, layers: LAYERS, ...opts })
  return path.join(dir, 'onnx', 'model.onnx')
}

function opCounts(graph: IGraphProto): Map<string, number> {
  const counts = new Map<string, number>()
  for (const n of graph.node ?? []) counts.set(n.opType!, (counts.get(n.opType!) ?? 0) + 1)
  return counts
}

/** The whole graph decoded (a tiny model), and fuseRotary's count on it after `mutate`. */
async function fusedSites(file: string, mutate: (graph: IGraphProto, producer: (v: string) => onnxProto.onnx.INodeProto) => void): Promise<number> {
  const graph = onnx.ModelProto.decode(await readFile(file)).graph!
  const producer = (v: string): onnxProto.onnx.INodeProto => graph.node!.find((n) => n.output!.includes(v))!
  mutate(graph, producer)
  return fuseRotary(graph, new ConstantValues(graph), 17, HEAD_DIM)
}

describe('fuseRotary', () => {
  for (const [what, opts] of [
    ['rotate_half by Split, shared tables', {}],
    ['rotate_half by Slices, tables scaled, cast and unsqueezed per layer (as transformers exports)', { exportedRope: true }],
  ] as const) {
    it(`fuses every query and key rotation: ${what}`, async () => {
      const file = await build(what.replace(/\W+/g, '-'), opts)
      const bytes = await readFile(file)
      const plain = onnx.ModelProto.decode(rewriteModel(bytes, 'split').bytes).graph!
      const fused = rewriteModel(bytes, 'split', { fuse: true })
      assert.equal(fused.fused.rotary, 2 * LAYERS)
      const before = opCounts(plain)
      const after = opCounts(onnx.ModelProto.decode(fused.bytes).graph!)
      assert.equal(after.get('RotaryEmbedding'), 2 * LAYERS)
      // rotate_half's Neg is gone from every layer, and the graph is smaller for it.
      assert.equal(before.get('Neg'), 2 * LAYERS)
      assert.equal(after.get('Neg') ?? 0, 0)
      const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0)
      assert.ok(total(after) < total(before) - 4 * LAYERS, `${total(before)} -> ${total(after)} nodes`)
    })
  }

  it('refuses look-alikes: halves swapped, a split off the middle, tables not of Concat(freqs, freqs)', async () => {
    const file = await build('look-alikes', { exportedRope: true })
    const all = await fusedSites(file, () => {})
    assert.equal(all, 2 * LAYERS)
    const rotateHalves = (graph: IGraphProto): onnxProto.onnx.INodeProto[] =>
      graph.node!.filter((n) => n.opType === 'Concat' && graph.node!.some((m) => m.opType === 'Neg' && m.output![0] === n.input![0]))

    // Concat(x1, -x2) is not rotate_half: only the first layer's query is changed.
    const swapped = await fusedSites(file, (graph) => {
      const concat = rotateHalves(graph)[0]!
      concat.input = [concat.input![1]!, concat.input![0]!]
    })
    assert.equal(swapped, all - 1)

    // Halves at D/2 - 2: the Slice bounds are read, not assumed.
    const offCentre = await fusedSites(file, (graph, producer) => {
      const concat = rotateHalves(graph)[0]!
      const lo = producer(concat.input![1]!)
      const bound = `${lo.name}/off-centre`
      graph.initializer!.push({ name: bound, dataType: onnx.TensorProto.DataType.INT64, dims: [1], rawData: new Uint8Array(BigInt64Array.of(BigInt(HEAD_DIM / 2 - 2)).buffer) })
      lo.input![2] = bound
    })
    assert.equal(offCentre, all - 1)

    // cos = Cos(Concat(freqs, other)): its two halves are no longer equal, so no layer is fused.
    const unequal = await fusedSites(file, (graph) => {
      const trig = graph.node!.find((n) => n.opType === 'Cos')!
      const concat = graph.node!.find((n) => n.output![0] === trig.input![0])!
      const other = `${concat.input![0]}/other`
      graph.node!.splice(graph.node!.indexOf(concat), 0, { opType: 'Neg', input: [concat.input![0]!], output: [other] })
      concat.input = [concat.input![0]!, other]
    })
    assert.equal(unequal, 0)
  })

  it('adds the com.microsoft opset to a model that does not import it, and the model loads', async () => {
    const file = await build('no-contrib-import', {})
    const model = onnx.ModelProto.decode(await readFile(file))
    model.opsetImport = model.opsetImport!.filter((o) => o.domain !== 'com.microsoft')
    assert.ok(!model.graph!.node!.some((n) => n.domain === 'com.microsoft'))
    const fused = rewriteModel(onnx.ModelProto.encode(model).finish(), 'split', { fuse: true })
    assert.equal(fused.fused.rotary, 2 * LAYERS)
    const imports = onnx.ModelProto.decode(fused.bytes).opsetImport!.map((o) => `${o.domain}:${Number(o.version)}`)
    assert.deepEqual(imports.sort(), [':17', 'com.microsoft:1'])
    const session = await ort.InferenceSession.create(fused.bytes, {
      logSeverityLevel: 3,
      extra: { session: { model_external_initializers_file_folder_path: path.dirname(file) } },
    } as ort.InferenceSession.SessionOptions)
    await session.release()
  })

  it('decodes as the unfused graph does, and a session says what it fused', async () => {
    const file = await build('sessions', { exportedRope: true, repeatKv: true, exportedRmsNorm: true })
    const fused = await ModelSession.open(file, SESSION)
    const plain = await ModelSession.open(file, { ...SESSION, fuse: false })
    try {
      assert.deepEqual(fused.fusions, [`rotary embedding ×${2 * LAYERS}`, `residual add + RMSNorm ×${2 * LAYERS}`])
      assert.deepEqual(plain.fusions, [])
      assert.equal(fused.kvUpdate, 'split')
      assert.equal(plain.kvUpdate, 'split')
      // Positions far into the cache too: the rotation's angle grows with the position.
      const tokens = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 512)
      const run = async (s: ModelSession): Promise<Float32Array[]> => {
        const kv = s.emptyCache()
        const out = [(await s.forward(kv, tokens.slice(0, 30), { logits: 'last' })).slice()]
        for (const t of tokens.slice(30)) out.push((await s.forward(kv, [t], { logits: 'last' })).slice())
        return out
      }
      const [a, b] = [await run(fused), await run(plain)]
      let diff = 0
      for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i]!.length; j++) diff = Math.max(diff, Math.abs(a[i]![j]! - b[i]![j]!))
      assert.ok(diff < 1e-4, `max abs diff ${diff}`)
    } finally {
      await fused.release()
      await plain.release()
    }
  })
})

/** The whole graph decoded, `mutate`d, then fuseSkipNorm's count on it. */
async function fusedNorms(file: string, mutate: (graph: IGraphProto) => void = () => {}): Promise<{ count: number; graph: IGraphProto }> {
  const graph = onnx.ModelProto.decode(await readFile(file)).graph!
  mutate(graph)
  return { count: fuseSkipNorm(graph, new ConstantValues(graph)), graph }
}

describe('fuseSkipNorm', () => {
  // Two layers: the post-attention norms, the second layer's input norm and the final norm read a
  // residual sum; the first input norm reads the embedding and is left to onnxruntime.
  const NORMS = 2 * LAYERS

  for (const [what, opts] of [
    ['x * x and a Reciprocal', {}],
    ['Pow, ReduceMean, Add, Sqrt, Div as torch exports it', { exportedRmsNorm: true }],
  ] as const) {
    it(`fuses every residual Add with the RMSNorm after it: ${what}`, async () => {
      const { count, graph } = await fusedNorms(await build(`norm-${what.replace(/\W+/g, '-')}`, opts))
      assert.equal(count, NORMS)
      const fusedNodes = graph.node!.filter((n) => n.opType === 'SkipSimplifiedLayerNormalization')
      assert.equal(fusedNodes.length, NORMS)
      // Each keeps the residual sum under the Add's name, for the next residual to read.
      for (const n of fusedNodes) {
        assert.equal(n.domain, 'com.microsoft')
        assert.equal(n.output!.length, 4)
        assert.ok(graph.node!.some((m) => m !== n && m.input!.includes(n.output![3]!)), `${n.output![3]} is read`)
      }
    })
  }

  it('fuses the rsqrt form, Mul(x, Div(1, Sqrt(..))), and refuses a norm over another axis or without the square', async () => {
    const file = await build('norm-variants', { exportedRmsNorm: true })
    const divs = (graph: IGraphProto): onnxProto.onnx.INodeProto[] =>
      graph.node!.filter((n) => n.opType === 'Div' && graph.node!.some((m) => m.opType === 'Sqrt' && m.output![0] === n.input![1]))
    // x / root rewritten as x * (1 / root) in every norm: all still fuse.
    const rsqrt = await fusedNorms(file, (graph) => {
      for (const div of divs(graph)) {
        const one = `${div.output![0]}/one`
        const inverse = `${div.output![0]}/rsqrt`
        graph.initializer!.push({ name: one, dataType: onnx.TensorProto.DataType.FLOAT, dims: [1], rawData: new Uint8Array(Float32Array.of(1).buffer) })
        graph.node!.splice(graph.node!.indexOf(div), 0, { opType: 'Div', input: [one, div.input![1]!], output: [inverse] })
        div.opType = 'Mul'
        div.input = [div.input![0]!, inverse]
      }
    })
    assert.equal(rsqrt.count, NORMS)

    // The mean over axis 1 is not an RMSNorm over the hidden size: that norm is left alone.
    const axis = await fusedNorms(file, (graph) => {
      const mean = graph.node!.filter((n) => n.opType === 'ReduceMean')[1]!
      mean.attribute = mean.attribute!.map((a) => (a.name === 'axes' ? { ...a, ints: [1] } : a))
    })
    assert.equal(axis.count, NORMS - 1)

    // Mean of x, not of x squared: left alone.
    const unsquared = await fusedNorms(file, (graph) => {
      const mean = graph.node!.filter((n) => n.opType === 'ReduceMean')[1]!
      const pow = graph.node!.find((n) => n.output![0] === mean.input![0])!
      mean.input![0] = pow.input![0]!
    })
    assert.equal(unsquared.count, NORMS - 1)
  })
})
