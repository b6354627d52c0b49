// The 'split' rewrite of one attention read of the cache (in-place.ts): the MatMul that reads
// Concat(past, fresh) is replaced by one product over each part, so the cache is never
// concatenated: scores = [Q·K_past, Q·K_fresh], out = P_past·V_past + P_fresh·V_fresh.

import { NAMES, type KvRole } from '../signature.ts'
import {
  consumersOf,
  INT64_MAX,
  intNode,
  onnx,
  RewriteUnsupported,
  type ConstantReader,
  type IGraphProto,
  type INodeProto,
  type NewInitializers,
} from './graph-edit.ts'

/** One cache tensor of one layer, as the export concatenates it. */
export interface CacheSlot {
  layer: number
  role: KvRole
  /** The Concat's output, the export's present.*: [B, kvHeads, past + new, headDim]. */
  full: string
  /** The past input, [B, kvHeads, past, headDim]. */
  past: string
  /** The new tokens' part, [B, kvHeads, new, headDim]; named fresh.* when it is an output. */
  fresh: string
}

/** Shapes computed once and read by every layer's split attention. */
export interface SharedShapes {
  /** The caches' length, [T] (all layers' caches have the same). */
  cacheLength: string | null
  /** [0, -1, S, 0], to view a grouped product [B, kvHeads, rep * S, y] as [B, heads, S, y]. */
  ungrouped: string | null
}

/**
 * Replaces the attention that reads `slot.full` by one that reads each part: the nodes between
 * the Concat and the MatMul that consumes it (repeat_kv, transposes, scales: all position by
 * position) are cloned once for the past and once for the fresh tensor.
 *
 * With `groups` (the KV head count), a repeat_kv at the head of the chain is dropped from both
 * clones: the other side of each MatMul, [B, heads, S, x], is viewed as [B, kvHeads, rep * S, x]
 * (query heads are grouped by KV head, as repeat_kv orders them), so the cache is read once per
 * KV head, not copied rep times, and a decode step runs ~20 fewer kernels a layer. Returns
 * whether it did.
 *
 * With `constants`, scores scaled by a constant scalar are scaled on the query instead (scoreScale).
 */
export function splitAttention(
  graph: IGraphProto,
  slot: CacheSlot,
  initializers: NewInitializers,
  groups: number | null,
  shared: SharedShapes,
  constants: ConstantReader | null,
): boolean {
  const nodes = graph.node!
  const { cone, target } = attentionCone(nodes, slot.full)
  checkConfined(graph, slot.full, cone, target)
  const repeat = groups ? findRepeatKv(nodes, slot.full, cone) : null
  const chain = nodes.filter((n) => cone.has(n))
  const past = cloneChain(chain, target, slot.full, 'past', slot.past, repeat)
  const fresh = cloneChain(chain, target, slot.full, 'fresh', slot.fresh, repeat)

  const split = new Replacement(target, initializers, repeat ? groups : null)
  split.nodes.push(...past.nodes, ...fresh.nodes)
  const scale = slot.role === 'key' && constants ? scoreScale(nodes, target.output![0]!, constants) : null
  // What the rest of the graph reads: the scaled scores when the scaling moves onto the query.
  const written = scale ? scale.node.output![0]! : target.output![0]!
  const product = repeat ? split.value('grouped') : written
  // The target's left side: the query for the keys, the probabilities for the values.
  const left = target.input![0]!
  if (slot.role === 'key') keyScores(split, left, past.value, fresh.value, scale, product)
  else valueOutput(split, left, slot.past, past.value, fresh.value, shared, product)
  if (repeat) split.ungroup(product, written, shared)

  // In the target's place: all it reads comes before the target, but for the scale's constant,
  // which an export places right before the scale, after the target (rewrite-model.ts sorts).
  const at = nodes.indexOf(target)
  graph.node = [...nodes.slice(0, at), ...split.nodes, ...nodes.slice(at + 1)].filter((n) => n !== scale?.node)
  return repeat !== null
}

/**
 * The nodes reading `full` on the way to the one attention MatMul that takes it as its right
 * side (the cone), and that MatMul.
 */
function attentionCone(nodes: INodeProto[], full: string): { cone: Set<INodeProto>; target: INodeProto } {
  const cone = new Set<INodeProto>()
  const targets = new Set<INodeProto>()
  const queue = [full]
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
  if (targets.size !== 1) throw new RewriteUnsupported(`${full} reaches ${targets.size} attention MatMuls, not one`)
  return { cone, target: [...targets][0]! }
}

/** Refuses a cone whose values are read anywhere but in the cone and the target's right side. */
function checkConfined(graph: IGraphProto, full: string, cone: Set<INodeProto>, target: INodeProto): void {
  const nodes = graph.node!
  const produced = new Set([...cone].flatMap((n) => n.output ?? []))
  for (const n of cone) {
    for (const o of n.output ?? []) {
      for (const c of consumersOf(nodes, o)) {
        if (!cone.has(c) && !(c === target && c.input![1] === o)) {
          throw new RewriteUnsupported(`${o}, derived from ${full}, is also read by ${c.opType} ${c.name ?? ''}`)
        }
      }
    }
  }
  if (produced.has(target.input![0]!) || target.input![0] === full) throw new RewriteUnsupported(`both sides of ${target.name ?? 'a MatMul'} come from ${full}`)
  if ((graph.output ?? []).some((o) => produced.has(o.name!))) throw new RewriteUnsupported(`a graph output is derived from ${full}`)
}

/**
 * The cone's nodes (in graph order) cloned to read `source` instead of `full`, their values
 * suffixed with the part's name; with `repeat`, its nodes dropped and the source read in their
 * place. `value` is what the clone gives the target's right side.
 */
function cloneChain(
  chain: INodeProto[],
  target: INodeProto,
  full: string,
  part: 'past' | 'fresh',
  source: string,
  repeat: INodeProto[] | null,
): { nodes: INodeProto[]; value: string } {
  const produced = new Set(chain.flatMap((n) => n.output ?? []))
  const repeated = repeat ? repeat[repeat.length - 1]!.output![0]! : null
  const rename = (v: string): string => (v === full || v === repeated ? source : produced.has(v) ? `${v}/hearth_${part}` : v)
  const nodes = chain
    .filter((n) => !repeat?.includes(n))
    .map((n) =>
      onnx.NodeProto.create({
        ...n,
        name: `${n.name || n.opType}/hearth_${part}`,
        input: (n.input ?? []).map(rename),
        output: (n.output ?? []).map(rename),
      }),
    )
  return { nodes, value: rename(target.input![1]!) }
}

/**
 * Scores over the cache's positions, then over the new tokens': the last axis, as the export's
 * Concat built it. `query` is the target's left side, [B, heads, S, D].
 */
function keyScores(split: Replacement, query: string, past: string, fresh: string, scale: Scale | null, into: string): void {
  const q = split.grouped(query, 'query_grouped')
  const qPast = scale ? split.add(scale.node.opType!, [q, scale.by], split.value('query_scaled_past')) : q
  const qFresh = scale ? split.add(scale.node.opType!, [q, scale.by], split.value('query_scaled_fresh')) : q
  split.add('MatMul', [qPast, past], split.value('scores_past'))
  split.add('MatMul', [qFresh, fresh], split.value('scores_fresh'))
  split.add('Concat', [split.value('scores_past'), split.value('scores_fresh')], into, { axis: -1 })
}

/**
 * Probabilities [.., cache positions | new positions] against the matching values. Every layer's
 * cache has the same length (one attention_mask covers them all): it is read once.
 */
function valueOutput(split: Replacement, probs: string, pastInput: string, past: string, fresh: string, shared: SharedShapes, into: string): void {
  if (shared.cacheLength === null) {
    shared.cacheLength = 'hearth/cache_length'
    split.add('Shape', [pastInput], 'hearth/cache_shape')
    split.add('Slice', ['hearth/cache_shape', split.int64([2]), split.int64([3]), split.int64([0])], shared.cacheLength)
  }
  const cacheLength = shared.cacheLength
  const p = split.grouped(probs, 'probs_grouped')
  split.add('Slice', [p, split.int64([0]), cacheLength, split.int64([-1])], split.value('probs_past'))
  split.add('Slice', [p, cacheLength, split.int64([INT64_MAX]), split.int64([-1])], split.value('probs_fresh'))
  split.add('MatMul', [split.value('probs_past'), past], split.value('out_past'))
  split.add('MatMul', [split.value('probs_fresh'), fresh], split.value('out_fresh'))
  split.add('Add', [split.value('out_past'), split.value('out_fresh')], into)
}

/**
 * The nodes replacing one attention MatMul, named after it. Folded (`groups` set): the other side
 * of the MatMuls, [B, heads, S, x], is viewed as [B, kvHeads, rep * S, x] and the result viewed
 * back as [B, heads, S, y]. The views leave the last axis alone, so the scores are concatenated,
 * and the probabilities sliced, in the grouped view: one Reshape each way a target.
 */
class Replacement {
  readonly nodes: INodeProto[] = []
  private base: string
  private out: string

  constructor(
    target: INodeProto,
    private initializers: NewInitializers,
    private groups: number | null,
  ) {
    this.out = target.output![0]!
    this.base = target.name || this.out
  }

  /** A value of this replacement, named after the target's output. */
  value(suffix: string): string {
    return `${this.out}/hearth_${suffix}`
  }

  int64(values: (number | bigint)[]): string {
    return this.initializers.int64(values)
  }

  add(opType: string, input: string[], output: string, attrs: Record<string, number> = {}): string {
    this.nodes.push(intNode(`${this.base}/${output.split('/').pop()}`, opType, input, [output], attrs))
    return output
  }

  /** `a` viewed as [B, kvHeads, rep * S, x] when folded; `a` itself otherwise. */
  grouped(a: string, suffix: string): string {
    if (this.groups === null) return a
    return this.add('Reshape', [a, this.int64([0, this.groups, -1, 0])], this.value(suffix))
  }

  /** The grouped product `a` viewed back as [B, heads, S, y] into `into`. */
  ungroup(a: string, into: string, shared: SharedShapes): void {
    // [B, -1, S, 0] with S the new tokens' count (input_ids' second axis): one shape for all layers.
    if (shared.ungrouped === null) {
      shared.ungrouped = 'hearth/ungrouped_shape'
      this.add('Shape', [NAMES.inputIds], 'hearth/ids_shape')
      this.add('Slice', ['hearth/ids_shape', this.int64([1]), this.int64([2]), this.int64([0])], 'hearth/new_tokens')
      this.add('Concat', [this.int64([0, -1]), 'hearth/new_tokens', this.int64([0])], shared.ungrouped, { axis: 0 })
    }
    this.add('Reshape', [a, shared.ungrouped], into)
  }
}

interface Scale {
  /** The Mul or Div scaling the scores. */
  node: INodeProto
  /** The constant scalar it scales by. */
  by: string
}

/**
 * The node scaling the scores `out` by a constant scalar (`out * c`, `c * out` or `out / c`) when
 * it is the scores' only reader. Scaled on the query instead, once for each product, onnxruntime
 * folds the scale into the MatMul as its alpha: no pass over the scores, which at a long prefill
 * are [heads, chunk, context] per layer.
 */
function scoreScale(nodes: INodeProto[], out: string, constants: ConstantReader): Scale | null {
  const readers = consumersOf(nodes, out)
  if (readers.length !== 1) return null
  const n = readers[0]!
  if ((n.domain ?? '') !== '' || n.input!.length !== 2) return null
  const [a, b] = n.input! as [string, string]
  const scalar = (v: string): boolean => constants.floats(v)?.length === 1
  if (n.opType === 'Mul' && a === out && scalar(b)) return { node: n, by: b }
  if (n.opType === 'Mul' && b === out && scalar(a)) return { node: n, by: a }
  if (n.opType === 'Div' && a === out && scalar(b)) return { node: n, by: b }
  return null
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
