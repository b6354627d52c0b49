// Rewrites a decoder graph at load so its KV cache is updated in place (PERFORMANCE.md).
//
// An Optimum-style export takes the whole cache in (`past_key_values.*`), concatenates the new
// token's keys and values onto it, and returns the whole cache again (`present.*`), which
// onnxruntime-node copies into a new JS buffer every step. Two rewrites, tried in this order:
//
// - 'split': attention is split over the cache and the new tokens, so the cache is read once and
//   never concatenated: scores = [Q·K_past, Q·K_new] (small), out = P_past·V_past + P_new·V_new.
// - 'append': the graph still concatenates internally, but only the new tokens' keys and values
//   come out.
//
// In both, the outputs are `fresh.*` ([batch, kvHeads, new tokens, headDim]) and the engine writes
// them into its own buffers, which have room to spare: the past is fed at its capacity, the unused
// positions masked by attention_mask and the real positions given by position_ids. Whether a
// rewritten graph honours that is checked at load by ModelSession#verifyInPlace, not assumed.
//
// Only the graph's small fields are decoded; initializers are carried over as raw bytes, so a
// model with half a gigabyte of inline weights is rewritten without parsing its tensors.

import type onnxProto from 'onnx-proto'
import protobuf from 'protobufjs/minimal.js'
import { fuseRotary } from './fuse-rotary.ts'
import { fuseSkipNorm } from './fuse-skip-norm.ts'
import { ConstantValues, Constants, consumersOf, intNode, onnx, producers, removeDeadNodes, type IGraphProto, type INodeProto } from './graph-edit.ts'

export type KvRewrite = 'split' | 'append'

export interface RewriteOptions {
  /**
   * With 'split': where the export repeats each KV head for its query heads (repeat_kv: Unsqueeze,
   * Expand, Reshape), attend over the cache without the copy, grouping the query heads instead
   * (default true).
   */
  foldRepeatKv?: boolean
  /**
   * Give a graph without num_logits_to_keep that input (Slice of the hidden states before the
   * lm_head), so a prefill computes the last position's logits only, not every position's.
   */
  lastLogits?: boolean
  /**
   * Fuse runs of small kernels into onnxruntime's contrib kernels: each rotary embedding
   * (fuse-rotary.ts), each residual Add with the RMSNorm after it (fuse-skip-norm.ts).
   */
  fuse?: boolean
}

export interface RewrittenModel {
  bytes: Uint8Array
  /** The new outputs in KvCache order (layer, key before value). */
  freshNames: string[]
  /** Why the logits rewrite asked for was not made; null when made or not asked for. */
  logitsNote: string | null
  /** Attention reads of the cache whose repeat_kv copy was folded away. */
  folded: number
  /** What `fuse` fused, by kind. */
  fused: Fused
  /** Why `fuse` fused nothing when it failed; null otherwise. */
  fuseNote: string | null
}

export interface Fused {
  /** Rotary embeddings, one RotaryEmbedding kernel each. */
  rotary: number
  /** Residual Adds and the RMSNorms reading them, one SkipSimplifiedLayerNormalization each. */
  skipNorm: number
}

/** Why a graph cannot take a rewrite; the engine then loads it as it is and says why. */
export class RewriteUnsupported extends Error {}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/
const PRESENT = /^present(?:_key_values)?\.(\d+)\.(key|value)$/
const INT64_MAX = 9223372036854775807n
// ModelProto.graph, GraphProto.initializer and GraphProto.sparse_initializer (onnx.proto).
const MODEL_GRAPH = 7
const GRAPH_INITIALIZER = 5
const GRAPH_SPARSE_INITIALIZER = 15
const MODEL_OPSET_IMPORT = 8
const WIRE_BYTES = 2
const SMALL_INITIALIZER = 4096

export function rewriteModel(model: Uint8Array, kind: KvRewrite, opts: RewriteOptions = {}): RewrittenModel {
  const top = fieldsOf(model)
  const graphField = top.filter((f) => f.field === MODEL_GRAPH)
  if (graphField.length !== 1) throw new RewriteUnsupported('the file has no single graph')
  const graphBytes = model.subarray(graphField[0]!.dataStart, graphField[0]!.end)

  const graphFields = fieldsOf(graphBytes)
  const isWeights = (f: Field): boolean => f.field === GRAPH_INITIALIZER || f.field === GRAPH_SPARSE_INITIALIZER
  const small = concat(graphFields.filter((f) => !isWeights(f)).map((f) => graphBytes.subarray(f.start, f.end)))
  const graph = onnx.GraphProto.decode(small)
  const opset = modelOpset(model, top)
  if (opset < 13) throw new RewriteUnsupported(`opset ${opset} (13 or newer needed)`)

  // Fusing reads Slice bounds and scalars, which live in small initializers: decode those, never
  // the weights.
  const values = opts.fuse
    ? new ConstantValues(
        graph,
        graphFields
          .filter((f) => f.field === GRAPH_INITIALIZER && f.end - f.dataStart <= SMALL_INITIALIZER)
          .map((f) => onnx.TensorProto.decode(graphBytes.subarray(f.dataStart, f.end))),
      )
    : null
  const { freshNames, folded } = rewriteGraph(graph, kind, opts.foldRepeatKv ?? true, values)
  let logitsNote: string | null = null
  if (opts.lastLogits && !hasLogitsToKeep(graph)) {
    try {
      addLogitsToKeep(graph)
    } catch (err) {
      if (!(err instanceof RewriteUnsupported)) throw err
      logitsNote = err.message
    }
  }

  let fused: Fused = { rotary: 0, skipNorm: 0 }
  let fuseNote: string | null = null
  if (values) {
    const headDim = (graph.input ?? []).find((i) => PAST.test(i.name ?? ''))?.type?.tensorType?.shape?.dim?.[3]?.dimValue
    // The fusions edit a copy: one that throws leaves the rewritten graph as it was.
    const copy = onnx.GraphProto.decode(onnx.GraphProto.encode(graph).finish())
    try {
      const rotary = fuseRotary(copy, values, opset, headDim ? Number(headDim) : null)
      const skipNorm = fuseSkipNorm(copy, values)
      removeDeadNodes(copy)
      Object.assign(graph, copy)
      fused = { rotary, skipNorm }
    } catch (err) {
      fuseNote = `nothing fused (${(err as Error).message})`
    }
  }

  const encoded = onnx.GraphProto.encode(graph).finish()
  const weights = graphFields.filter(isWeights).map((f) => graphBytes.subarray(f.start, f.end))
  const graphLength = encoded.length + weights.reduce((n, w) => n + w.length, 0)
  const head = protobuf.Writer.create().uint32((MODEL_GRAPH << 3) | WIRE_BYTES).uint32(graphLength).finish()
  const rest = top.filter((f) => f.field !== MODEL_GRAPH).map((f) => model.subarray(f.start, f.end))
  if (fused.rotary + fused.skipNorm > 0 && !importsDomain(model, top, 'com.microsoft')) {
    const entry = onnx.OperatorSetIdProto.encode({ domain: 'com.microsoft', version: 1 }).finish()
    rest.push(protobuf.Writer.create().uint32((MODEL_OPSET_IMPORT << 3) | WIRE_BYTES).bytes(entry).finish())
  }
  return { bytes: concat([...rest, head, encoded, ...weights]), freshNames, logitsNote, folded, fused, fuseNote }
}

/**
 * Rewrites `graph` in place; returns the fresh KV output names in KvCache order and how many
 * cache reads had their repeat_kv folded away. With `values` (the graph's known constants), a
 * split also moves the scores' scaling onto the query (see splitAttention).
 */
export function rewriteGraph(
  graph: IGraphProto,
  kind: KvRewrite,
  foldRepeatKv = true,
  values: ConstantValues | null = null,
): { freshNames: string[]; folded: number } {
  const nodes = graph.node ?? []
  if (nodes.some((n) => (n.attribute ?? []).some((a) => a.g || (a.graphs && a.graphs.length > 0)))) {
    throw new RewriteUnsupported('the graph has control flow (If/Loop), as old merged decoders do')
  }
  const inputNames = new Set((graph.input ?? []).map((i) => i.name))
  if (!inputNames.has('attention_mask')) throw new RewriteUnsupported('no attention_mask input to mask unused cache positions')
  if (!inputNames.has('position_ids')) throw new RewriteUnsupported('no position_ids input (positions would follow the cache capacity)')

  const producer = producers(nodes)

  interface Slot { index: number; layer: number; role: 'key' | 'value'; full: string; past: string; fresh: string }
  const slots: Slot[] = []
  for (const out of graph.output ?? []) {
    const m = PRESENT.exec(out.name ?? '')
    if (!m) continue
    const layer = Number(m[1])
    const role = m[2] as 'key' | 'value'
    const concat = producer.get(out.name!)
    const pastName = `past_key_values.${layer}.${role}`
    if (concat?.opType !== 'Concat' || (concat.input ?? []).length !== 2 || concat.input![0] !== pastName || !inputNames.has(pastName)) {
      throw new RewriteUnsupported(`${out.name} is not Concat(${pastName}, new)`)
    }
    const axis = (concat.attribute ?? []).find((a) => a.name === 'axis')?.i
    if (Number(axis) !== 2 && Number(axis) !== -2) throw new RewriteUnsupported(`${out.name} concatenates on axis ${String(axis)}`)
    slots.push({ index: layer * 2 + (role === 'key' ? 0 : 1), layer, role, full: out.name!, past: pastName, fresh: concat.input![1]! })
  }
  const pastCount = (graph.input ?? []).filter((i) => PAST.test(i.name ?? '')).length
  if (slots.length === 0 || slots.length !== pastCount) throw new RewriteUnsupported('present outputs do not pair with past inputs')
  slots.sort((a, b) => a.index - b.index)

  const added: INodeProto[] = []
  const freshNames: string[] = []
  const outputs = (graph.output ?? []).filter((o) => !PRESENT.test(o.name ?? ''))
  for (const slot of slots) {
    const name = `fresh.${slot.layer}.${slot.role}`
    added.push(onnx.NodeProto.create({ opType: 'Identity', name: `hearth/${name}`, input: [slot.fresh], output: [name] }))
    const presentInfo = graph.output!.find((o) => o.name === slot.full)!
    outputs.push(onnx.ValueInfoProto.create({ name, type: freshType(presentInfo.type) }))
    freshNames.push(name)
  }
  graph.output = outputs
  graph.node = [...nodes, ...added]

  let folded = 0
  if (kind === 'split') {
    const constants = new Constants(graph)
    const shared: SharedShapes = { cacheLength: null, ungrouped: null }
    for (const slot of slots) {
      const kvHeads = (graph.input ?? []).find((i) => i.name === slot.past)?.type?.tensorType?.shape?.dim?.[1]?.dimValue
      // The fold views products back by the new tokens' count, read from input_ids.
      const groups = foldRepeatKv && kvHeads && inputNames.has('input_ids') ? Number(kvHeads) : null
      if (splitAttention(graph, slot, constants, groups, shared, values)) folded++
    }
    constants.commit()
  }
  nameFreshAtSource(graph, added)
  removeDeadNodes(graph)
  for (const slot of slots) {
    if (kind === 'split' && producer.get(slot.full) && graph.node!.includes(producer.get(slot.full)!)) {
      throw new RewriteUnsupported(`${slot.full} is still read after the split`)
    }
  }
  return { freshNames, folded }
}

/**
 * Replaces the attention that reads Concat(past, fresh) by one that reads each part: the nodes
 * between the Concat and the MatMul that consumes it (repeat_kv, transposes, scales: all position
 * by position) are cloned once for the past and once for the fresh tensor.
 *
 * With `groups` (the KV head count), a repeat_kv at the head of the chain is dropped from both
 * clones: the other side of each MatMul, [B, heads, S, x], is viewed as [B, kvHeads, rep * S, x]
 * (query heads are grouped by KV head, as repeat_kv orders them), so the cache is read once per
 * KV head, not copied rep times, and a decode step runs ~20 fewer kernels a layer. Returns
 * whether it did.
 */
function splitAttention(
  graph: IGraphProto,
  slot: { layer: number; role: 'key' | 'value'; full: string; past: string; fresh: string },
  constants: Constants,
  groups: number | null,
  shared: SharedShapes,
  values: ConstantValues | null,
): boolean {
  const nodes = graph.node!
  const cone = new Set<INodeProto>()
  const targets = new Set<INodeProto>()
  const queue = [slot.full]
  while (queue.length > 0) {
    const value = queue.pop()!
    for (const c of consumersOf(nodes, value)) {
      if (c.opType === 'MatMul' && (c.domain ?? '') === '' && c.input![1] === value && c.input![0] !== value) {
        targets.add(c)
        continue
      }
      if (cone.has(c)) continue
      cone.add(c)
      queue.push(...(c.output ?? []))
    }
  }
  if (targets.size !== 1) throw new RewriteUnsupported(`${slot.full} reaches ${targets.size} attention MatMuls, not one`)
  const target = [...targets][0]!
  const produced = new Set([...cone].flatMap((n) => n.output ?? []))
  for (const n of cone) {
    for (const o of n.output ?? []) {
      for (const c of consumersOf(nodes, o)) {
        if (!cone.has(c) && !(c === target && c.input![1] === o)) {
          throw new RewriteUnsupported(`${o}, derived from ${slot.full}, is also read by ${c.opType} ${c.name ?? ''}`)
        }
      }
    }
  }
  if (produced.has(target.input![0]!) || target.input![0] === slot.full) throw new RewriteUnsupported(`both sides of ${target.name ?? 'a MatMul'} come from ${slot.full}`)
  if ((graph.output ?? []).some((o) => produced.has(o.name!))) throw new RewriteUnsupported(`a graph output is derived from ${slot.full}`)

  const repeat = groups ? findRepeatKv(nodes, slot.full, cone) : null
  const ordered = nodes.filter((n) => cone.has(n))
  const clone = (part: 'past' | 'fresh', source: string, skip: INodeProto[] = []): { nodes: INodeProto[]; value: string } => {
    const repeated = skip.length > 0 ? skip[skip.length - 1]!.output![0]! : null
    const rename = (v: string): string =>
      v === slot.full || v === repeated ? source : produced.has(v) ? `${v}/hearth_${part}` : v
    const copies = ordered.filter((n) => !skip.includes(n)).map((n) =>
      onnx.NodeProto.create({
        ...n,
        name: `${n.name || n.opType}/hearth_${part}`,
        input: (n.input ?? []).map(rename),
        output: (n.output ?? []).map(rename),
      }),
    )
    return { nodes: copies, value: rename(target.input![1]!) }
  }
  const past = clone('past', slot.past, repeat ?? [])
  const fresh = clone('fresh', slot.fresh, repeat ?? [])
  const lhs = target.input![0]!
  const out = target.output![0]!
  const base = target.name || out
  const node = (opType: string, input: string[], output: string, attrs: Record<string, number> = {}): INodeProto =>
    intNode(`${base}/${output.split('/').pop()}`, opType, input, [output], attrs)
  const v = (suffix: string): string => `${out}/hearth_${suffix}`
  const replacement: INodeProto[] = [...past.nodes, ...fresh.nodes]
  // Folded: the other side of the MatMuls, [B, heads, S, x], is viewed as [B, kvHeads, rep * S, x]
  // and the result viewed back as [B, heads, S, y]. The views leave the last axis alone, so the
  // scores are concatenated, and the probabilities sliced, in the grouped view: one Reshape each
  // way a target.
  const group = (a: string, into: string): string => {
    if (!repeat) return a
    replacement.push(node('Reshape', [a, constants.int64([0, groups!, -1, 0])], into))
    return into
  }
  const ungroup = (a: string, into: string): void => {
    if (!repeat) return
    // [B, -1, S, 0] with S the new tokens' count (input_ids' second axis): one shape for all layers.
    if (shared.ungrouped === null) {
      shared.ungrouped = 'hearth/ungrouped_shape'
      replacement.push(
        node('Shape', ['input_ids'], 'hearth/ids_shape'),
        node('Slice', ['hearth/ids_shape', constants.int64([1]), constants.int64([2]), constants.int64([0])], 'hearth/new_tokens'),
        node('Concat', [constants.int64([0, -1]), 'hearth/new_tokens', constants.int64([0])], shared.ungrouped, { axis: 0 }),
      )
    }
    replacement.push(node('Reshape', [a, shared.ungrouped], into))
  }
  // Without the fold the last node writes `out` itself.
  let result = repeat ? v('grouped') : out
  // Scores scaled by a constant scalar (q·kᵀ * 1/sqrt(D)) are scaled on the query instead, once
  // for each product, which onnxruntime folds into the MatMul as its alpha: no pass over the
  // scores, which at a long prefill are [heads, chunk, context] per layer.
  const scale = slot.role === 'key' && values ? scoreScale(nodes, out, values) : null
  let finalOut = out
  if (scale) {
    finalOut = scale.node.output![0]!
    if (!repeat) result = finalOut
  }
  if (slot.role === 'key') {
    // scores over the cache's positions, then over the new tokens': the last axis, as Concat built it.
    const query = group(lhs, v('query_grouped'))
    const scaled = (part: string): string => {
      if (!scale) return query
      replacement.push(node(scale.node.opType!, [query, scale.by], v(`query_scaled_${part}`)))
      return v(`query_scaled_${part}`)
    }
    replacement.push(
      node('MatMul', [scaled('past'), past.value], v('scores_past')),
      node('MatMul', [scaled('fresh'), fresh.value], v('scores_fresh')),
      node('Concat', [v('scores_past'), v('scores_fresh')], result, { axis: -1 }),
    )
  } else {
    // probabilities [.., cache positions | new positions] against the matching values. Every
    // layer's cache has the same length (one attention_mask covers them all): read it once.
    if (shared.cacheLength === null) {
      shared.cacheLength = 'hearth/cache_length'
      replacement.push(
        node('Shape', [slot.past], 'hearth/cache_shape'),
        node('Slice', ['hearth/cache_shape', constants.int64([2]), constants.int64([3]), constants.int64([0])], shared.cacheLength),
      )
    }
    const cacheLength = shared.cacheLength
    const probs = group(lhs, v('probs_grouped'))
    replacement.push(
      node('Slice', [probs, constants.int64([0]), cacheLength, constants.int64([-1])], v('probs_past')),
      node('Slice', [probs, cacheLength, constants.int64([INT64_MAX]), constants.int64([-1])], v('probs_fresh')),
      node('MatMul', [v('probs_past'), past.value], v('out_past')),
      node('MatMul', [v('probs_fresh'), fresh.value], v('out_fresh')),
      node('Add', [v('out_past'), v('out_fresh')], result),
    )
  }
  ungroup(result, finalOut)
  const at = nodes.indexOf(target)
  graph.node = [...nodes.slice(0, at), ...replacement, ...nodes.slice(at + 1)].filter((n) => n !== scale?.node)
  return repeat !== null
}

/**
 * Drops the Identity nodes that named the fresh outputs where the tensor can take the output's
 * name itself (a node's output that is no graph input or output): one kernel less each.
 */
function nameFreshAtSource(graph: IGraphProto, identities: INodeProto[]): void {
  const graphValues = new Set([...(graph.input ?? []), ...(graph.output ?? [])].map((v) => v.name))
  const produced = new Set((graph.node ?? []).flatMap((n) => n.output ?? []))
  const renames = new Map<string, string>()
  for (const identity of identities) {
    const source = identity.input![0]!
    if (!produced.has(source) || graphValues.has(source) || renames.has(source)) continue
    renames.set(source, identity.output![0]!)
  }
  const rename = (v: string): string => renames.get(v) ?? v
  graph.node = (graph.node ?? []).filter((n) => !(identities.includes(n) && renames.get(n.input![0]!) === n.output![0]))
  for (const n of graph.node) {
    n.input = (n.input ?? []).map(rename)
    n.output = (n.output ?? []).map(rename)
  }
}

/**
 * The node scaling the scores `out` by a constant scalar (`out * c`, `c * out` or `out / c`) when
 * it is the scores' only reader, with what it scales by.
 */
function scoreScale(nodes: INodeProto[], out: string, values: ConstantValues): { node: INodeProto; by: string } | null {
  const readers = consumersOf(nodes, out)
  if (readers.length !== 1) return null
  const n = readers[0]!
  if ((n.domain ?? '') !== '' || n.input!.length !== 2) return null
  const [a, b] = n.input! as [string, string]
  const scalar = (v: string): boolean => values.floats(v)?.length === 1
  if (n.opType === 'Mul' && a === out && scalar(b)) return { node: n, by: b }
  if (n.opType === 'Mul' && b === out && scalar(a)) return { node: n, by: a }
  if (n.opType === 'Div' && a === out && scalar(b)) return { node: n, by: b }
  return null
}

/** Shapes computed once and read by every layer's split attention. */
interface SharedShapes {
  /** The caches' length, [T] (all layers' caches have the same). */
  cacheLength: string | null
  /** [0, -1, S, 0], to view a grouped product [B, kvHeads, rep * S, y] as [B, heads, S, y]. */
  ungrouped: string | null
}

/**
 * transformers' repeat_kv as exported: Unsqueeze(cache, 2) -> Expand -> Reshape to
 * [B, kvHeads * rep, T, D], each the only reader of the one before. Null when the chain differs.
 */
function findRepeatKv(nodes: INodeProto[], full: string, cone: Set<INodeProto>): INodeProto[] | null {
  const only = (value: string, opType: string): INodeProto | null => {
    const readers = consumersOf(nodes, value)
    return readers.length === 1 && readers[0]!.opType === opType && readers[0]!.input![0] === value && cone.has(readers[0]!) ? readers[0]! : null
  }
  // The cache itself may also be read by Shape nodes computing the repeat's shapes.
  const unsqueeze = consumersOf(nodes, full).find((n) => n.opType === 'Unsqueeze' && n.input![0] === full && cone.has(n)) ?? null
  const expand = unsqueeze && only(unsqueeze.output![0]!, 'Expand')
  const reshape = expand && only(expand.output![0]!, 'Reshape')
  return unsqueeze && expand && reshape ? [unsqueeze, expand, reshape] : null
}

/**
 * Adds a `num_logits_to_keep` input as Optimum's newer exports have it: k keeps the last k
 * positions' logits, 0 keeps all. The hidden states entering the lm_head ([batch, seq, hidden],
 * before any flattening Reshape) are sliced on the sequence axis.
 */
export function addLogitsToKeep(graph: IGraphProto): void {
  const inputs = graph.input ?? []
  if (hasLogitsToKeep(graph)) throw new RewriteUnsupported('the graph already has num_logits_to_keep')
  const nodes = graph.node ?? []
  const producer = producers(nodes)
  // From the logits back to the lm_head, through what may follow it (reshape, bias, cast, scale).
  let head = producer.get('logits')
  while (head && ['Reshape', 'Add', 'Cast', 'Identity', 'Mul', 'Div'].includes(head.opType ?? '')) {
    head = producer.get(head.input![0]!)
  }
  const isHead = (n: INodeProto | undefined): boolean =>
    n !== undefined && (((n.domain ?? '') === '' && (n.opType === 'MatMul' || n.opType === 'Gemm')) || n.opType === 'MatMulNBits')
  if (!isHead(head)) throw new RewriteUnsupported('no MatMul or Gemm lm_head found before the logits')
  let hidden = head!.input![0]!
  const flatten = producer.get(hidden)
  if (flatten?.opType === 'Reshape') hidden = flatten.input![0]!
  if (inputs.some((i) => i.name === hidden)) throw new RewriteUnsupported('the lm_head reads a graph input')

  const constants = new Constants(graph)
  const keep = 'num_logits_to_keep'
  const sliced = `${hidden}/hearth_last`
  const start = `${keep}/hearth_start`
  const added: INodeProto[] = [
    onnx.NodeProto.create({ opType: 'Unsqueeze', name: `${keep}/hearth_unsqueeze`, input: [keep, constants.int64([0])], output: [`${keep}/hearth_1d`] }),
    onnx.NodeProto.create({ opType: 'Neg', name: `${keep}/hearth_neg`, input: [`${keep}/hearth_1d`], output: [start] }),
    onnx.NodeProto.create({ opType: 'Slice', name: `${sliced}_slice`, input: [hidden, start, constants.int64([INT64_MAX]), constants.int64([1])], output: [sliced] }),
  ]
  for (const n of nodes) n.input = (n.input ?? []).map((v) => (v === hidden ? sliced : v))
  const at = nodes.indexOf(producer.get(hidden)!) + 1
  graph.node = [...nodes.slice(0, at), ...added, ...nodes.slice(at)]
  graph.input = [
    ...inputs,
    onnx.ValueInfoProto.create({ name: keep, type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: [] } } } }),
  ]
  constants.commit()
}

function hasLogitsToKeep(graph: IGraphProto): boolean {
  return (graph.input ?? []).some((i) => i.name === 'num_logits_to_keep' || i.name === 'logits_to_keep')
}

/** The present output's type with its sequence dimension renamed: fresh outputs hold the new tokens only. */
function freshType(type: onnxProto.onnx.ITypeProto | null | undefined): onnxProto.onnx.ITypeProto | undefined {
  const tensor = type?.tensorType
  if (!tensor) return type ?? undefined
  const dims = tensor.shape?.dim ?? []
  return {
    tensorType: {
      elemType: tensor.elemType,
      shape: { dim: dims.map((d, i) => (i === 2 ? { dimParam: 'sequence_length' } : d)) },
    },
  }
}

interface Field {
  field: number
  start: number
  /** Where a length-delimited field's payload starts. */
  dataStart: number
  end: number
}

/** The top-level fields of a protobuf message, as byte ranges. */
function fieldsOf(bytes: Uint8Array): Field[] {
  const reader = protobuf.Reader.create(bytes)
  const fields: Field[] = []
  while (reader.pos < reader.len) {
    const start = reader.pos
    const tag = reader.uint32()
    const wire = tag & 7
    let dataStart = reader.pos
    if (wire === WIRE_BYTES) {
      const length = reader.uint32()
      dataStart = reader.pos
      reader.skip(length)
    } else {
      reader.skipType(wire)
    }
    fields.push({ field: tag >>> 3, start, dataStart, end: reader.pos })
  }
  return fields
}

/** The default domain's opset version, from the model's opset_import. */
function modelOpset(model: Uint8Array, top: Field[]): number {
  for (const f of top.filter((x) => x.field === MODEL_OPSET_IMPORT)) {
    const entry = onnx.OperatorSetIdProto.decode(model.subarray(f.dataStart, f.end))
    if ((entry.domain ?? '') === '' || entry.domain === 'ai.onnx') return Number(entry.version)
  }
  return 0
}

function importsDomain(model: Uint8Array, top: Field[], domain: string): boolean {
  return top.some((f) => f.field === MODEL_OPSET_IMPORT && onnx.OperatorSetIdProto.decode(model.subarray(f.dataStart, f.end)).domain === domain)
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
