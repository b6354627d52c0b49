// Rewrites a decoder graph so its KV cache is updated in place (PERFORMANCE.md).
//
// An Optimum-style export takes the whole cache in (`past_key_values.*`), concatenates the new
// token's keys and values onto it, and returns the whole cache again (`present.*`), which
// onnxruntime-node copies into a new JS buffer every step. Two rewrites, tried in this order:
//
// - 'split': attention is split over the cache and the new tokens, so the cache is read once and
//   never concatenated: scores = [Q·K_past, Q·K_new] (small), out = P_past·V_past + P_new·V_new
//   (split-attention.ts).
// - 'append': the graph still concatenates internally, but only the new tokens' keys and values
//   come out.
//
// In both, the outputs are `fresh.*` ([batch, kvHeads, new tokens, headDim]) and the engine writes
// them into its own buffers, which have room to spare: the past is fed at its capacity, the unused
// positions masked by attention_mask and the real positions given by position_ids. Whether a
// rewritten graph honours that is checked at load by verifyInPlace (open-session.ts), not assumed.

import type onnxProto from 'onnx-proto'
import type { KvUpdate } from '../../../src-shared/types.ts'
import { freshName, kvSlotOf, NAMES, PAST, pastName, PRESENT } from '../signature.ts'
import { NewInitializers, onnx, producers, removeDeadNodes, RewriteUnsupported, sortNodes, type ConstantReader, type IGraphProto, type INodeProto } from './graph-edit.ts'
import { splitAttention, type CacheSlot, type SharedShapes } from './split-attention.ts'

/** The KV updates made by rewriting the graph: every one but the export's own 'copy'. */
export type InPlaceUpdate = Exclude<KvUpdate, 'copy'>

/**
 * Rewrites `graph` in place, its nodes left in order; returns the fresh KV output names in KvCache
 * order and how many cache reads had their repeat_kv folded away. With `constants` (the graph's
 * known constants), a split also moves the scores' scaling onto the query (see splitAttention).
 */
export function rewriteGraph(
  graph: IGraphProto,
  kind: InPlaceUpdate,
  foldRepeatKv = true,
  constants: ConstantReader | null = null,
): { freshNames: string[]; folded: number } {
  const nodes = graph.node ?? []
  if (nodes.some((n) => (n.attribute ?? []).some((a) => a.g || (a.graphs && a.graphs.length > 0)))) {
    throw new RewriteUnsupported('the graph has control flow (If/Loop), as old merged decoders do')
  }
  const inputNames = new Set((graph.input ?? []).map((i) => i.name))
  if (!inputNames.has(NAMES.attentionMask)) throw new RewriteUnsupported(`no ${NAMES.attentionMask} input to mask unused cache positions`)
  if (!inputNames.has(NAMES.positionIds)) throw new RewriteUnsupported(`no ${NAMES.positionIds} input (positions would follow the cache capacity)`)

  const producer = producers(nodes)
  const slots = cacheSlots(graph, producer)
  const added: INodeProto[] = []
  const freshNames: string[] = []
  const outputs = (graph.output ?? []).filter((o) => !PRESENT.test(o.name ?? ''))
  for (const slot of slots) {
    const name = freshName(slot.layer, slot.role)
    added.push(onnx.NodeProto.create({ opType: 'Identity', name: `hearth/${name}`, input: [slot.fresh], output: [name] }))
    const presentInfo = graph.output!.find((o) => o.name === slot.full)!
    outputs.push(onnx.ValueInfoProto.create({ name, type: freshType(presentInfo.type) }))
    freshNames.push(name)
  }
  graph.output = outputs
  graph.node = [...nodes, ...added]

  let folded = 0
  if (kind === 'split') {
    const initializers = new NewInitializers(graph)
    const shared: SharedShapes = { cacheLength: null, ungrouped: null }
    for (const slot of slots) {
      const kvHeads = (graph.input ?? []).find((i) => i.name === slot.past)?.type?.tensorType?.shape?.dim?.[1]?.dimValue
      // The fold views products back by the new tokens' count, read from input_ids.
      const groups = foldRepeatKv && kvHeads && inputNames.has(NAMES.inputIds) ? Number(kvHeads) : null
      if (splitAttention(graph, slot, initializers, groups, shared, constants)) folded++
    }
    initializers.commit()
  }
  nameFreshAtSource(graph, added)
  removeDeadNodes(graph)
  sortNodes(graph)
  for (const slot of slots) {
    if (kind === 'split' && producer.get(slot.full) && graph.node!.includes(producer.get(slot.full)!)) {
      throw new RewriteUnsupported(`${slot.full} is still read after the split`)
    }
  }
  return { freshNames, folded }
}

/** Each present output paired with its past input and the new part, in KvCache order. */
function cacheSlots(graph: IGraphProto, producer: Map<string, INodeProto>): CacheSlot[] {
  const inputNames = new Set((graph.input ?? []).map((i) => i.name))
  const slots: (CacheSlot & { index: number })[] = []
  for (const out of graph.output ?? []) {
    const kv = kvSlotOf(out.name ?? '', PRESENT)
    if (!kv) continue
    const concat = producer.get(out.name!)
    const past = pastName(kv.layer, kv.role)
    if (concat?.opType !== 'Concat' || (concat.input ?? []).length !== 2 || concat.input![0] !== past || !inputNames.has(past)) {
      throw new RewriteUnsupported(`${out.name} is not Concat(${past}, new)`)
    }
    const axis = (concat.attribute ?? []).find((a) => a.name === 'axis')?.i
    if (Number(axis) !== 2 && Number(axis) !== -2) throw new RewriteUnsupported(`${out.name} concatenates on axis ${String(axis)}`)
    slots.push({ index: kv.layer * 2 + (kv.role === 'key' ? 0 : 1), ...kv, full: out.name!, past, fresh: concat.input![1]! })
  }
  const pastCount = (graph.input ?? []).filter((i) => PAST.test(i.name ?? '')).length
  if (slots.length === 0 || slots.length !== pastCount) throw new RewriteUnsupported('present outputs do not pair with past inputs')
  return slots.sort((a, b) => a.index - b.index)
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
