// The in-place KV cache: rewritten graphs against the export as it is, the load-time check that
// falls back to 'copy', and rewriteGraph / rewriteModel on hand-made graphs.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import onnxProto from 'onnx-proto'
import * as ort from 'onnxruntime-node'
import { buildModel, type BuildOptions } from '../../../../tools/model-builder/build-model.ts'
import { GraphBuilder } from '../../../../src-main/models/onnx-writer/graph-builder.ts'
import { Rng } from '../../../../tools/model-builder/random.ts'
import { openSession } from '../../../../src-main/engine/open-session.ts'
import type { ModelSession} from '../../../../src-main/engine/session.ts';
import { type SessionOptions } from '../../../../src-main/engine/session.ts'
import { rewriteGraph } from '../../../../src-main/engine/graph/in-place.ts'
import { rewriteModel, RewriteUnsupported, type InPlaceUpdate } from '../../../../src-main/engine/graph/rewrite-model.ts'

const { onnx } = onnxProto

const TOKENS = [1, 77, 300, 5, 42, 42, 9, 511, 260, 3, 128, 64, 7, 99, 17]
const PREFILL = 5
const VOCAB = 512
const CONTEXT = 64

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-in-place-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

const SESSION: SessionOptions = { provider: 'cpu', threads: 1, contextLength: CONTEXT, kvHeads: 2, headDim: 16, vocab: VOCAB }

/** Builds the tiny model once under `name`; returns the path of `file`. */
async function build(name: string, opts: Partial<BuildOptions>, file = 'model.onnx'): Promise<string> {
  const dir = path.join(root, name)
  await buildModel(dir, { vocab: VOCAB, contextLength: CONTEXT, ...opts })
  return path.join(dir, 'onnx', file)
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length)
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!))
  return max
}

/** Prefill then one token at a time: the last-position logits after every pass, copied. */
async function decode(session: ModelSession, tokens: number[], prefill = PREFILL): Promise<{ logits: Float32Array[]; capacity: number }> {
  const kv = session.emptyCache()
  const logits = [(await session.forward(kv, tokens.slice(0, prefill), { logits: 'last' })).slice()]
  for (let i = prefill; i < tokens.length; i++) logits.push((await session.forward(kv, [tokens[i]!], { logits: 'last' })).slice())
  assert.deepEqual(kv.tokens, tokens)
  return { logits, capacity: kv.capacity }
}

/** Largest difference between one pass over `tokens` and prefill-then-decode on the same session. */
async function cachedVsFull(session: ModelSession, tokens: number[]): Promise<number> {
  const full = (await session.forward(session.emptyCache(), tokens, { logits: 'all' })).slice()
  const { logits } = await decode(session, tokens)
  let max = 0
  logits.forEach((got, step) => {
    const pos = PREFILL - 1 + step
    max = Math.max(max, maxAbsDiff(got, full.subarray(pos * session.vocab, (pos + 1) * session.vocab)))
  })
  return max
}

// Measured on this tiny model (max abs diff over 11 steps, logits of scale ~18): fp32 8.6e-6,
// fp16 KV 4.8e-5, q4 weights 4.8e-6 (its KV is fp32, so the fp32 bound holds). The split only
// reorders sums (P_past·V_past + P_new·V_new); a masking or position error moves logits by ~10.
// fp16 gets 1e-3, tighter than 1e-2 and still 20x what it measures.
// A graph that cannot take several tokens over a non-empty cache gets 'append': split always
// feeds the cache (a fresh one masked), which such a graph refuses for a multi-token first pass.
const VARIANTS: [string, Partial<BuildOptions>, string, number, 'split' | 'append'][] = [
  ['fp32 KV', {}, 'model.onnx', 1e-4, 'split'],
  ['fp16 KV', { kv: 'float16' }, 'model.onnx', 1e-3, 'split'],
  ['q4 weights', { q4: true }, 'model_q4.onnx', 1e-4, 'split'],
  ['int32 input_ids', { ids: 'int32' }, 'model.onnx', 1e-4, 'split'],
  ['num_logits_to_keep', { logitsToKeep: true }, 'model.onnx', 1e-4, 'split'],
  ['repeat_kv attention', { repeatKv: true }, 'model.onnx', 1e-4, 'split'],
  ['repeat_kv attention, fp16 KV', { repeatKv: true, kv: 'float16' }, 'model.onnx', 1e-3, 'split'],
  ['as Optimum exports it (repeat_kv, fusable RMSNorm)', { repeatKv: true, exportedRmsNorm: true }, 'model.onnx', 1e-4, 'split'],
  ['with the rope as transformers exports it', { repeatKv: true, exportedRmsNorm: true, exportedRope: true }, 'model.onnx', 1e-4, 'split'],
  // Opset 18 moves ReduceMean's axes to an input and gives Split num_outputs; longrope scales the tables.
  ['at opset 18, rope tables scaled by 1.19', { repeatKv: true, exportedRmsNorm: true, exportedRope: true, opset: 18, ropeScaling: 1.19 }, 'model.onnx', 1e-4, 'split'],
  ['at opset 18, rotate_half by Split', { opset: 18 }, 'model.onnx', 1e-4, 'split'],
  // torch.onnx places each Constant right before its reader: a pass that adds a reader earlier
  // (the scores' scale moved onto the query) must keep the Constant and the order valid.
  ['as torch.onnx exports it, a Constant node before each reader', { repeatKv: true, exportedRmsNorm: true, exportedRope: true, inlineConstants: true }, 'model.onnx', 1e-4, 'split'],
  ['with grouped heads and a Constant node before each reader', { inlineConstants: true }, 'model.onnx', 1e-4, 'split'],
  // transformers' eager and SDPA attention add a float mask, made once, to each layer's scores.
  ['as Llama exports mask the scores (a float mask added per layer)', { repeatKv: true, exportedRmsNorm: true, exportedRope: true, additiveMask: true }, 'model.onnx', 1e-4, 'split'],
  ['with grouped heads and a float mask added per layer', { additiveMask: true }, 'model.onnx', 1e-4, 'split'],
  ['single-token append', { singleTokenPass: true }, 'model.onnx', 1e-4, 'append'],
]

describe('ModelSession in-place KV updates', () => {
  for (const [what, opts, file, bound, mode] of VARIANTS) {
    it(`updates in place (${mode}) and decodes as the export does, ${what} (max abs diff < ${bound})`, async () => {
      const model = await build(what.replace(/\W+/g, '-'), opts, file)
      const split = await openSession(model, SESSION)
      const copy = await openSession(model, { ...SESSION, kvUpdate: 'copy' })
      try {
        assert.equal(split.kvUpdate, mode, split.kvUpdateNotes.join('; '))
        if (mode === 'split') assert.deepEqual(split.kvUpdateNotes, [])
        // A graph that fails to run may fail in a fused kernel: tried again unfused before append.
        else assert.match(split.kvUpdateNotes.join('; '), /^split \(fused\): the rewritten graph failed .*; split: the rewritten graph failed/)
        // Every layer's query and key rotations, and the norms after a residual, in each variant.
        assert.deepEqual(split.fusions, ['rotary embedding ×4', 'residual add + RMSNorm ×4'])
        assert.deepEqual(copy.fusions, [])
        assert.equal(split.sig.inPlace, true)
        assert.equal(copy.kvUpdate, 'copy')
        assert.equal(copy.sig.inPlace, false)
        const a = await decode(split, TOKENS)
        const b = await decode(copy, TOKENS)
        // In place: written into spare capacity. Copy: the export's whole cache, exactly the tokens.
        assert.ok(a.capacity > TOKENS.length, `split capacity ${a.capacity}`)
        assert.equal(b.capacity, TOKENS.length)
        const diff = Math.max(...a.logits.map((l, i) => maxAbsDiff(l, b.logits[i]!)))
        console.log(`# ${what}: split vs copy max abs diff ${diff.toExponential(2)}`)
        assert.ok(diff < bound, `max abs diff ${diff}`)
      } finally {
        await split.release()
        await copy.release()
      }
    })
  }

  it('masks stale keys left in spare capacity by a truncate: a branch decodes as a fresh cache does', async () => {
    const session = await openSession(await build('branch', {}), SESSION)
    try {
      assert.equal(session.kvUpdate, 'split')
      const first = TOKENS.slice(0, 10)
      const keep = 4
      const branch = [200, 17, 400, 8, 99, 31]
      const kv = session.emptyCache()
      await session.forward(kv, first.slice(0, PREFILL), { logits: 'last' })
      for (const t of first.slice(PREFILL)) await session.forward(kv, [t], { logits: 'last' })
      const capacity = kv.capacity
      kv.truncate(keep)
      assert.equal(kv.nPast, keep)
      assert.equal(kv.capacity, capacity)
      // The old branch's keys are still there, unmasked data a wrong graph would attend to.
      const key = kv.tensors[0]!.data as Float32Array
      const dim = session.sig.headDim
      assert.ok(key.subarray(keep * dim, first.length * dim).some((x) => x !== 0))

      const full = (await session.forward(session.emptyCache(), [...first.slice(0, keep), ...branch], { logits: 'all' })).slice()
      const row = (pos: number): Float32Array => full.subarray(pos * VOCAB, (pos + 1) * VOCAB)
      // Two tokens in one pass over the stale positions, then one at a time over the rest of them.
      const two = await session.forward(kv, branch.slice(0, 2), { logits: 'all' })
      let diff = Math.max(maxAbsDiff(two.subarray(0, VOCAB), row(keep)), maxAbsDiff(two.subarray(VOCAB), row(keep + 1)))
      for (let i = 2; i < branch.length; i++) {
        diff = Math.max(diff, maxAbsDiff(await session.forward(kv, [branch[i]!], { logits: 'last' }), row(keep + i)))
      }
      assert.deepEqual(kv.tokens, [...first.slice(0, keep), ...branch])
      assert.ok(diff < 1e-4, `max abs diff ${diff}`)
    } finally {
      await session.release()
    }
  })

  it('gives back the room a truncate leaves, instead of attending over it masked every step', async () => {
    const context = 512
    const dir = path.join(root, 'shrink')
    await buildModel(dir, { vocab: VOCAB, contextLength: context })
    const session = await openSession(path.join(dir, 'onnx', 'model.onnx'), { ...SESSION, contextLength: context })
    try {
      const long = Array.from({ length: 300 }, (_, i) => (i * 37) % VOCAB)
      const kv = session.emptyCache()
      for (let i = 0; i < long.length; i += 100) await session.forward(kv, long.slice(i, i + 100), { logits: 'last' })
      assert.ok(kv.capacity >= 300)
      kv.truncate(10)
      const got = (await session.forward(kv, [5], { logits: 'last' })).slice()
      assert.equal(kv.capacity, session.capacityFor(11))
      assert.ok(kv.capacity < 100, `capacity ${kv.capacity}`)
      const expected = await session.forward(session.emptyCache(), [...long.slice(0, 10), 5], { logits: 'last' })
      assert.ok(maxAbsDiff(got, expected) < 1e-4)
    } finally {
      await session.release()
    }
  })

  it('falls back to copy without position_ids, and says so', async () => {
    const session = await openSession(await build('no-position-ids', { positionIds: false }), SESSION)
    try {
      assert.equal(session.kvUpdate, 'copy')
      assert.equal(session.kvUpdateNotes.length, 2)
      assert.match(session.kvUpdateNotes[0]!, /^split: .*position_ids/)
      assert.match(session.kvUpdateNotes[1]!, /^append: .*position_ids/)
      assert.ok((await cachedVsFull(session, TOKENS)) < 1e-4)
    } finally {
      await session.release()
    }
  })

  for (const additiveMask of [false, true]) {
    it(`rejects both rewrites of a graph that ignores attention_mask, and decodes right by copy${additiveMask ? ' (float mask added per layer)' : ''}`, async () => {
      const session = await openSession(await build(`mask-ignored-${additiveMask}`, { maskIgnored: true, additiveMask }), SESSION)
      try {
        // The signature is the usual one: only running the rewritten graph can tell.
        assert.equal(session.sig.mask, 'int64')
        assert.equal(session.kvUpdate, 'copy')
        // Each fused attempt is tried again unfused; differing the same way unfused, the fusion was
        // not at fault, so append is tried fused again.
        assert.equal(session.kvUpdateNotes.length, 4, session.kvUpdateNotes.join('\n'))
        assert.match(session.kvUpdateNotes[0]!, /^split \(fused\): logits differ from a single pass by /)
        assert.match(session.kvUpdateNotes[1]!, /^split: logits differ from a single pass by /)
        assert.match(session.kvUpdateNotes[2]!, /^append \(fused\): logits differ from a single pass by /)
        assert.match(session.kvUpdateNotes[3]!, /^append: logits differ from a single pass by /)
        // Every position is real in a copy cache, so the ignored mask changes nothing there.
        const diff = await cachedVsFull(session, TOKENS)
        assert.ok(diff < 1e-4, `max abs diff ${diff}`)
      } finally {
        await session.release()
      }
    })
  }
})

// A one-layer, one-KV-head decoder of head size 4 over 8 tokens, every tensor inline (no
// causal mask: the last position attends to every earlier one either way, which is all the
// load-time check compares).
const HAND = { dim: 4, vocab: 8 }

interface HandMade {
  /** Default true. */
  positionIds?: boolean
  /** ReduceSum(present.0.key) added to the logits: the Concat's output read outside attention. */
  extraReader?: boolean
  /** Attention output as (Vᵀ·Pᵀ)ᵀ: the values are the MatMul's left side, which 'split' does not recognise. */
  valuesOnLeft?: boolean
}

function handMade(dir: string, opts: HandMade = {}): Uint8Array {
  const { dim: D, vocab: V } = HAND
  const g = new GraphBuilder(dir, 'unused.onnx_data', Infinity)
  const rng = new Rng(3)
  const weight = (name: string, rows: number, cols: number): string => g.tensor(name, 'float32', [rows, cols], rng.weights(rows * cols, 1))
  const ids = g.input('input_ids', 'int64', [1, 'sequence_length'])
  const mask = g.input('attention_mask', 'int64', [1, 'total_sequence_length'])
  const pastDims = [1, 1, 'past_sequence_length', D]
  const pastK = g.input('past_key_values.0.key', 'float32', pastDims)
  const pastV = g.input('past_key_values.0.value', 'float32', pastDims)

  let e = g.op('Gather', [weight('embed', V, D), ids], { axis: 0 }) // [1, S, D]
  if (opts.positionIds ?? true) {
    const positions = g.input('position_ids', 'int64', [1, 'sequence_length'])
    const p = g.op('Unsqueeze', [g.op('Cast', [positions], { to: 1 }), g.int64([2])])
    e = g.op('Add', [e, g.op('Mul', [p, g.float([0.3, -0.2, 0.1, 0.25])])])
  }
  const x = g.op('Unsqueeze', [e, g.int64([1])]) // [1, 1, S, D]
  const q = g.op('MatMul', [x, weight('wq', D, D)])
  const k = g.op('MatMul', [x, weight('wk', D, D)])
  const v = g.op('MatMul', [x, weight('wv', D, D)])
  const keys = g.op('Concat', [pastK, k], { axis: 2 }, { output: 'present.0.key' })
  const values = g.op('Concat', [pastV, v], { axis: 2 }, { output: 'present.0.value' })
  const scores = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [keys], { perm: [0, 1, 3, 2] })]), g.float([0.5], [])])
  const allowed = g.op('Unsqueeze', [g.op('Cast', [mask], { to: 9 }), g.int64([1, 2])]) // [1, 1, 1, T]
  const probs = g.op('Softmax', [g.op('Where', [allowed, scores, g.float([-3.4e38], [])])], { axis: -1 })
  const attn = opts.valuesOnLeft
    ? g.op('Transpose', [g.op('MatMul', [g.op('Transpose', [values], { perm: [0, 1, 3, 2] }), g.op('Transpose', [probs], { perm: [0, 1, 3, 2] })])], { perm: [0, 1, 3, 2] })
    : g.op('MatMul', [probs, values])
  const out = g.op('MatMul', [g.op('Squeeze', [attn, g.int64([1])]), weight('lm_head', D, V)]) // [1, S, V]
  if (opts.extraReader) g.op('Add', [out, g.op('ReduceSum', [keys], { keepdims: 0 })], {}, { output: 'logits' })
  else g.op('Identity', [out], {}, { output: 'logits' })
  g.output('logits', 'float32', [1, 'sequence_length', V])
  g.output('present.0.key', 'float32', [1, 1, 'total_sequence_length', D])
  g.output('present.0.value', 'float32', [1, 1, 'total_sequence_length', D])
  return g.finish('hand-made')
}

async function handMadeDir(name: string): Promise<string> {
  const dir = path.join(root, name)
  await mkdir(dir, { recursive: true })
  return dir
}

/** The hand-made graph, decoded anew on every call: rewriteGraph edits the graph it is given. */
async function graphOf(name: string, opts: HandMade = {}): Promise<() => onnxProto.onnx.IGraphProto> {
  const bytes = handMade(await handMadeDir(name), opts)
  return () => onnx.ModelProto.decode(bytes).graph!
}

function throwsUnsupported(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RewriteUnsupported, `not RewriteUnsupported: ${String(err)}`)
    assert.match(err.message, message)
    return true
  })
}

/** Feeds for the hand-made graph: `past` cached positions (every one real), then `ids`. */
function handFeeds(past: number, ids: number[]): Record<string, ort.Tensor> {
  const { dim: D } = HAND
  const cache = (sign: number): ort.Tensor =>
    new ort.Tensor('float32', Float32Array.from({ length: past * D }, (_, i) => sign * Math.sin(i + 1)), [1, 1, past, D])
  const int64 = (values: number[]): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length])
  return {
    input_ids: int64(ids),
    attention_mask: int64(new Array(past + ids.length).fill(1)),
    position_ids: int64(ids.map((_, i) => past + i)),
    'past_key_values.0.key': cache(1),
    'past_key_values.0.value': cache(-1),
  }
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 })
  try {
    return await session.run(feeds)
  } finally {
    await session.release()
  }
}

describe('rewriteGraph', () => {
  it('will not split a Concat output that is also read outside attention, and names it; append takes the graph', async () => {
    const graph = await graphOf('extra-reader', { extraReader: true })
    throwsUnsupported(() => rewriteGraph(graph(), 'split'), /present\.0\.key/)
    const appended = graph()
    assert.deepEqual(rewriteGraph(appended, 'append').freshNames, ['fresh.0.key', 'fresh.0.value'])
    assert.deepEqual(appended.output!.map((o) => o.name), ['logits', 'fresh.0.key', 'fresh.0.value'])
    // The Concat stays: attention and the ReduceSum still read the whole cache.
    assert.ok(appended.node!.some((n) => n.opType === 'Concat' && n.output![0] === 'present.0.key'))
  })

  it('splits the usual graph: no Concat onto the past is left', async () => {
    const graph = (await graphOf('plain'))()
    assert.deepEqual(rewriteGraph(graph, 'split').freshNames, ['fresh.0.key', 'fresh.0.value'])
    const past = new Set(['past_key_values.0.key', 'past_key_values.0.value'])
    assert.ok(!graph.node!.some((n) => n.opType === 'Concat' && n.input!.some((i) => past.has(i))))
  })

  it("folds repeat_kv away: the cache is never expanded per query head, and an export's output is kept", async () => {
    const file = await build('repeat-kv-fold', { repeatKv: true, layers: 2 })
    const bytes = await readFile(file)
    const folded = rewriteModel(bytes, 'split')
    const unfolded = rewriteModel(bytes, 'split', { foldRepeatKv: false })
    assert.equal(folded.folded, 4) // 2 layers, keys and values
    assert.equal(unfolded.folded, 0)
    const expandsOf = (model: Uint8Array): string[][] =>
      onnx.ModelProto.decode(model).graph!.node!.filter((n) => n.opType === 'Expand').map((n) => n.input!)
    // Folded, nothing is repeated: neither the cache nor the new tokens' keys and values.
    const expanded = (model: Uint8Array, part: string): number => expandsOf(model).filter((inputs) => inputs[0]!.includes(part)).length
    assert.equal(expandsOf(folded.bytes).length, 0)
    assert.equal(expanded(unfolded.bytes, 'hearth_past'), 4)
    assert.equal(expanded(unfolded.bytes, 'hearth_fresh'), 4)
    // The broadcast-style graph has no repeat_kv to fold.
    assert.equal(rewriteModel(await readFile(await build('no-repeat-kv', { layers: 2 })), 'split').folded, 0)
  })

  it('gives a graph without num_logits_to_keep that input, so a prefill computes one row of logits', async () => {
    const file = await build('last-logits', { layers: 1 })
    const plain = rewriteModel(await readFile(file), 'split')
    const sliced = rewriteModel(await readFile(file), 'split', { lastLogits: true })
    const inputsOf = (model: Uint8Array): string[] => onnx.ModelProto.decode(model).graph!.input!.map((i) => i.name!)
    assert.ok(!inputsOf(plain.bytes).includes('num_logits_to_keep'))
    assert.ok(inputsOf(sliced.bytes).includes('num_logits_to_keep'))
    assert.equal(sliced.logitsNote, null)
    const session = await openSession(file, SESSION)
    try {
      assert.deepEqual(session.sig.logitsToKeep, { name: 'num_logits_to_keep', type: 'int64' })
      // One row for 'last', every row for 'all', and the last rows agree.
      const tokens = TOKENS.slice(0, 6)
      const all = (await session.forward(session.emptyCache(), tokens, { logits: 'all' })).slice()
      const last = await session.forward(session.emptyCache(), tokens, { logits: 'last' })
      assert.equal(all.length, tokens.length * VOCAB)
      assert.ok(maxAbsDiff(all.subarray((tokens.length - 1) * VOCAB), last) < 1e-5)
    } finally {
      await session.release()
    }
  })

  it('refuses control flow', async () => {
    const graph = (await graphOf('if'))()
    const branch = (value: number): onnxProto.onnx.IGraphProto => ({
      name: `branch_${value}`,
      node: [{ opType: 'Constant', output: [`c${value}`], attribute: [{ name: 'value_float', type: onnx.AttributeProto.AttributeType.FLOAT, f: value }] }],
      output: [{ name: `c${value}`, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [] } } } }],
    })
    const G = onnx.AttributeProto.AttributeType.GRAPH
    graph.node!.push({
      opType: 'If',
      input: ['cond'],
      output: ['chosen'],
      attribute: [{ name: 'then_branch', type: G, g: branch(1) }, { name: 'else_branch', type: G, g: branch(0) }],
    })
    // Refused before anything is edited, so one graph serves both.
    for (const kind of ['split', 'append'] as const) throwsUnsupported(() => rewriteGraph(graph, kind), /control flow/)
  })

  it('refuses a graph without position_ids', async () => {
    const graph = await graphOf('no-positions', { positionIds: false })
    for (const kind of ['split', 'append'] as const) throwsUnsupported(() => rewriteGraph(graph(), kind), /position_ids/)
  })
})

describe('rewriteModel', () => {
  for (const kind of ['split', 'append'] as InPlaceUpdate[]) {
    it(`${kind}: keeps the initializers byte for byte, loads in onnxruntime, computes what the export does`, async () => {
      const original = handMade(await handMadeDir(`model-${kind}`))
      const { bytes, freshNames } = rewriteModel(original, kind)
      assert.deepEqual(freshNames, ['fresh.0.key', 'fresh.0.value'])

      const before = onnx.ModelProto.decode(original).graph!.initializer!
      const after = new Map(onnx.ModelProto.decode(bytes).graph!.initializer!.map((t) => [t.name, t]))
      assert.ok(before.some((t) => t.name === 'embed' && t.rawData!.length === HAND.vocab * HAND.dim * 4), 'the weights are inline')
      // Compared as plain bytes: protobufjs decodes bytes fields as Buffer or Uint8Array depending on the input.
      const plain = (b: Uint8Array | null | undefined): Uint8Array | undefined => (b ? Uint8Array.from(b) : undefined)
      for (const t of before) assert.deepEqual(plain(after.get(t.name)?.rawData), plain(t.rawData), String(t.name))

      // Three cached positions and two new tokens, every position real: the same logits, and
      // fresh.* are the last two positions of the export's present.*.
      const feeds = handFeeds(3, [5, 2])
      const want = await run(original, feeds)
      const got = await run(bytes, feeds)
      assert.ok(maxAbsDiff(got.logits!.data as Float32Array, want.logits!.data as Float32Array) < 1e-5)
      for (const role of ['key', 'value']) {
        const present = want[`present.0.${role}`]!
        const fresh = got[`fresh.0.${role}`]!
        assert.deepEqual(fresh.dims, [1, 1, 2, HAND.dim])
        assert.deepEqual([...(fresh.data as Float32Array)], [...(present.data as Float32Array).subarray(3 * HAND.dim)])
      }
    })
  }

  it('opens a graph split cannot take with append, verified at load, decoding as the export does', async () => {
    const dir = await handMadeDir('values-on-left')
    const file = path.join(dir, 'model.onnx')
    await writeFile(file, handMade(dir, { valuesOnLeft: true }))
    const bytes = await readFile(file)
    throwsUnsupported(() => rewriteModel(bytes, 'split'), /present\.0\.value reaches 0 attention MatMuls/)

    const opts: SessionOptions = { ...SESSION, kvHeads: 1, headDim: HAND.dim, vocab: HAND.vocab }
    const inPlace = await openSession(file, opts)
    const copy = await openSession(file, { ...opts, kvUpdate: 'copy' })
    try {
      assert.equal(inPlace.kvUpdate, 'append')
      assert.equal(inPlace.kvUpdateNotes.length, 1)
      assert.match(inPlace.kvUpdateNotes[0]!, /^split: present\.0\.value reaches 0 attention MatMuls/)
      const tokens = [1, 7, 3, 0, 5, 5, 2, 6, 4]
      const a = await decode(inPlace, tokens, 3)
      const b = await decode(copy, tokens, 3)
      assert.ok(a.capacity > tokens.length)
      const diff = Math.max(...a.logits.map((l, i) => maxAbsDiff(l, b.logits[i]!)))
      assert.ok(diff < 1e-4, `max abs diff ${diff}`)
    } finally {
      await inPlace.release()
      await copy.release()
    }
  })
})
