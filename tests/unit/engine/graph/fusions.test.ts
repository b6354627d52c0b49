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
import { buildModel, type BuildOptions } from '../../../../tools/model-builder/build-model.ts'
import { fuseRotary } from '../../../../src-main/engine/graph/fuse-rotary.ts'
import { fuseSkipNorm } from '../../../../src-main/engine/graph/fuse-skip-norm.ts'
import { ConstantReader } from '../../../../src-main/engine/graph/graph-edit.ts'
import { rewriteModel } from '../../../../src-main/engine/graph/rewrite-model.ts'
import { openSession } from '../../../../src-main/engine/open-session.ts'
import type { ModelSession} from '../../../../src-main/engine/session.ts';
import { type SessionOptions } from '../../../../src-main/engine/session.ts'

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
  return fuseRotary(graph, new ConstantReader(graph), 17, HEAD_DIM)
}

describe('fuseRotary', () => {
  for (const [what, opts] of [
    ['rotate_half by Split, shared tables', {}],
    ['rotate_half by Slices, tables scaled, cast and unsqueezed per layer (as transformers exports)', { exportedRope: true }],
    ['rotate_half by Split, cos_cached / sin_cached rows gathered by position_ids', { cachedRope: true }],
    ['rotate_half by Slices, cos_cached / sin_cached rows gathered by position_ids and cast, unsqueezed per layer (as transformers 4.35-4.37 export)', { exportedRope: true, cachedRope: true }],
  ] as const) {
    it(`fuses every query and key rotation: ${what}`, async () => {
      const file = await build(what.replace(/\W+/g, '-'), opts)
      const bytes = await readFile(file)
      const plain = onnx.ModelProto.decode(rewriteModel(bytes, 'split').bytes).graph!
      // Cached tables are read to check their rows, from the external data beside the model.
      const fused = rewriteModel(bytes, 'split', { fuse: true, externalDataDir: path.dirname(file) })
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

  it('refuses look-alikes: halves swapped, an off-centre split, cos and sin swapped, tables on another axis, x not in the heads layout, unequal table halves', async () => {
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

    // cos and sin swapped in one layer's query: Mul(x, sin) is not the direct term.
    const swappedTables = await fusedSites(file, (graph, producer) => {
      const add = graph.node!.find((n) => n.opType === 'Add' && producer(n.input![0]!)?.opType === 'Mul' && producer(n.input![1]!)?.opType === 'Mul' && rotateHalves(graph).some((c) => producer(n.input![1]!).input!.includes(c.output![0]!)))!
      const [direct, rotated] = [producer(add.input![0]!), producer(add.input![1]!)]
      const tableOf = (mul: onnxProto.onnx.INodeProto): number => mul.input!.findIndex((i) => producer(i)?.opType === 'Unsqueeze')
      const [d, r] = [tableOf(direct), tableOf(rotated)]
      ;[direct.input![d], rotated.input![r]] = [rotated.input![r]!, direct.input![d]!]
    })
    assert.equal(swappedTables, all - 1)

    // Tables unsqueezed on another axis do not broadcast over heads: that layer is left alone.
    const otherAxis = await fusedSites(file, (graph, producer) => {
      const concat = rotateHalves(graph)[0]!
      const mul = graph.node!.find((n) => n.opType === 'Mul' && n.input!.includes(concat.output![0]!))!
      const unsqueeze = producer(mul.input!.find((i) => i !== concat.output![0])!)
      const axis = `${unsqueeze.name}/axis2`
      graph.initializer!.push({ name: axis, dataType: onnx.TensorProto.DataType.INT64, dims: [1], rawData: new Uint8Array(BigInt64Array.of(2n).buffer) })
      unsqueeze.input![1] = axis
    })
    assert.equal(otherAxis, all - 1)

    // x not in the [B, heads, S, D] layout (no Transpose before it): not fused.
    const noTranspose = await fusedSites(file, (graph, producer) => {
      const concat = rotateHalves(graph)[0]!
      const slice = producer(graph.node!.find((n) => n.opType === 'Neg' && n.output![0] === concat.input![0])!.input![0]!)
      const transpose = producer(slice.input![0]!)
      transpose.opType = 'Identity'
      transpose.attribute = []
    })
    assert.equal(noTranspose, all - 1)

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

  it("scales the query instead of the scores, so onnxruntime can fold the scale into the MatMuls", async () => {
    const bytes = await readFile(await build('score-scale', { repeatKv: true, exportedRope: true }))
    const graphOf = (fuse: boolean): IGraphProto => onnx.ModelProto.decode(rewriteModel(bytes, 'split', { fuse }).bytes).graph!
    // What produces the scores the mask's Where reads, and how many query tensors are scaled.
    const scaling = (graph: IGraphProto): { masked: string[]; queries: number } => {
      const producer = (v: string): string => graph.node!.find((n) => n.output!.includes(v))!.opType!
      return {
        masked: graph.node!.filter((n) => n.opType === 'Where').map((n) => producer(n.input![1]!)),
        queries: graph.node!.filter((n) => n.opType === 'Mul' && n.output![0]!.includes('query_scaled')).length,
      }
    }
    // Unfused: each layer's scores are scaled by a Mul over [heads, S, T] before the mask.
    assert.deepEqual(scaling(graphOf(false)), { masked: ['Mul', 'Mul'], queries: 0 })
    // Fused: the scores are masked as the MatMuls wrote them (viewed back), and each layer's query
    // is scaled once for the cache's product and once for the new tokens'.
    assert.deepEqual(scaling(graphOf(true)), { masked: ['Reshape', 'Reshape'], queries: 2 * LAYERS })
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

  it('falls back to the unfused graph when a fused one does not load, and says so', async (t) => {
    const file = await build('fused-fails', { exportedRope: true })
    const create = ort.InferenceSession.create.bind(ort.InferenceSession) as (m: Uint8Array, o: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>
    // As a provider without the contrib kernels would: any graph with a RotaryEmbedding node fails.
    t.mock.method(ort.InferenceSession, 'create', async (model: unknown, options: ort.InferenceSession.SessionOptions) => {
      if (model instanceof Uint8Array && Buffer.from(model).includes('RotaryEmbedding')) throw new Error('no RotaryEmbedding kernel here')
      return create(model as Uint8Array, options)
    })
    const session = await openSession(file, SESSION)
    try {
      assert.equal(session.kvUpdate, 'split')
      assert.deepEqual(session.fusions, [])
      assert.equal(session.kvUpdateNotes.length, 1)
      assert.match(session.kvUpdateNotes[0]!, /^split \(fused\): the rewritten graph did not load \(no RotaryEmbedding kernel here\)/)
    } finally {
      await session.release()
    }
  })

  it('numbers the cache rows per batch entry: two sequences at different positions agree with the unfused graph', async () => {
    const file = await build('batch', { exportedRope: true, repeatKv: true })
    const bytes = await readFile(file)
    const open = (fuse: boolean): Promise<ort.InferenceSession> =>
      ort.InferenceSession.create(rewriteModel(bytes, 'split', { fuse }).bytes, {
        logSeverityLevel: 3,
        extra: { session: { model_external_initializers_file_folder_path: path.dirname(file) } },
      } as ort.InferenceSession.SessionOptions)
    const [fused, plain] = [await open(true), await open(false)]
    try {
      // Batch 2, 3 new tokens over a 4-position cache; the second row's positions start 20 later,
      // so a fused kernel that rotated it at the first row's cache rows would give other keys.
      const [B, S, P] = [2, 3, 4]
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from([5n, 77n, 300n, 42n, 9n, 260n]), [B, S]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(B * (P + S)).fill(1n), [B, P + S]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from([4n, 5n, 6n, 24n, 25n, 26n]), [B, S]),
      }
      for (const name of fused.inputNames.filter((n) => n.startsWith('past_key_values'))) {
        feeds[name] = new ort.Tensor('float32', Float32Array.from({ length: B * 2 * P * HEAD_DIM }, (_, i) => Math.sin(i * 0.7)), [B, 2, P, HEAD_DIM])
      }
      if (fused.inputNames.includes('num_logits_to_keep')) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(0n), [])
      const [a, b] = [await fused.run(feeds), await plain.run(feeds)]
      for (const name of ['logits', 'fresh.0.key', 'fresh.1.key']) {
        const [x, y] = [a[name]!.data as Float32Array, b[name]!.data as Float32Array]
        assert.deepEqual(a[name]!.dims, b[name]!.dims)
        let diff = 0
        for (let i = 0; i < x.length; i++) diff = Math.max(diff, Math.abs(x[i]! - y[i]!))
        assert.ok(diff < 1e-4, `${name}: max abs diff ${diff}`)
      }
    } finally {
      await fused.release()
      await plain.release()
    }
  })

  it('decodes as the unfused graph does, and a session says what it fused', async () => {
    const file = await build('sessions', { exportedRope: true, repeatKv: true, exportedRmsNorm: true })
    const fused = await openSession(file, SESSION)
    const plain = await openSession(file, { ...SESSION, fuse: false })
    try {
      assert.deepEqual(fused.fusions, [`rotary embedding ×${2 * LAYERS}`, `residual add + RMSNorm ×${2 * LAYERS}`])
      assert.deepEqual(plain.fusions, [])
      assert.equal(fused.kvUpdate, 'split')
      assert.equal(plain.kvUpdate, 'split')
      const diff = await logitsDiff(fused, plain)
      assert.ok(diff < 1e-4, `max abs diff ${diff}`)
    } finally {
      await fused.release()
      await plain.release()
    }
  })

  it('fuses a graph whose Constant nodes sit right before their readers, as torch.onnx places them, and decodes as the export does', async () => {
    const file = await build('inline-constants', { exportedRope: true, repeatKv: true, exportedRmsNorm: true, inlineConstants: true })
    const nodes = onnx.ModelProto.decode(await readFile(file)).graph!.node!
    const constants = nodes.filter((n) => n.opType === 'Constant')
    assert.ok(constants.length > 10 * LAYERS, `${constants.length} Constant nodes`)
    for (const c of constants) {
      const reader = nodes.slice(nodes.indexOf(c)).find((n) => n.opType !== 'Constant')!
      assert.ok(reader.input!.includes(c.output![0]!), `${c.output![0]} is read by the node after it`)
    }
    const fused = await openSession(file, SESSION)
    const exported = await openSession(file, { ...SESSION, kvUpdate: 'copy' })
    try {
      // Nothing dropped: no fused attempt failed and fell back to an unfused one.
      assert.deepEqual(fused.kvUpdateNotes, [])
      assert.equal(fused.kvUpdate, 'split')
      assert.deepEqual(fused.fusions, [`rotary embedding ×${2 * LAYERS}`, `residual add + RMSNorm ×${2 * LAYERS}`])
      const diff = await logitsDiff(fused, exported)
      assert.ok(diff < 1e-4, `max abs diff ${diff}`)
    } finally {
      await fused.release()
      await exported.release()
    }
  })
})

/** The whole graph decoded, `mutate`d, then fuseSkipNorm's count on it. */
async function fusedNorms(file: string, mutate: (graph: IGraphProto) => void = () => {}): Promise<{ count: number; graph: IGraphProto }> {
  const graph = onnx.ModelProto.decode(await readFile(file)).graph!
  mutate(graph)
  return { count: fuseSkipNorm(graph, new ConstantReader(graph)), graph }
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
      const { count, graph } = await fusedNorms(await build(`norm-${what.replace(/\W+/g, '-')}`, { ...opts, rmsEps: 3e-4 }))
      assert.equal(count, NORMS)
      const fusedNodes = graph.node!.filter((n) => n.opType === 'SkipSimplifiedLayerNormalization')
      assert.equal(fusedNodes.length, NORMS)
      // Each keeps the residual sum under the Add's name, for the next residual to read.
      for (const n of fusedNodes) {
        assert.equal(n.domain, 'com.microsoft')
        // The norm's own epsilon, read from its Add (too small to show in a tiny model's logits).
        assert.equal(n.attribute!.find((a) => a.name === 'epsilon')?.f, Math.fround(3e-4))
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

/**
 * The largest difference between two sessions' logits over a 30-token prefill and 10 decode steps,
 * positions far into the cache too: the rotation's angle grows with the position.
 */
async function logitsDiff(a: ModelSession, b: ModelSession): Promise<number> {
  const tokens = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 512)
  const run = async (s: ModelSession): Promise<Float32Array[]> => {
    const kv = s.emptyCache()
    const out = [(await s.forward(kv, tokens.slice(0, 30), { logits: 'last' })).slice()]
    for (const t of tokens.slice(30)) out.push((await s.forward(kv, [t], { logits: 'last' })).slice())
    return out
  }
  const [x, y] = [await run(a), await run(b)]
  let diff = 0
  for (let i = 0; i < x.length; i++) for (let j = 0; j < x[i]!.length; j++) diff = Math.max(diff, Math.abs(x[i]![j]! - y[i]![j]!))
  return diff
}
