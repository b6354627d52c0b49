// Fuses an export's rotary position embedding into onnxruntime's RotaryEmbedding kernel
// (com.microsoft), one per query and key tensor a layer, at load (PERFORMANCE.md).
//
// transformers' apply_rotary_pos_emb as exported: q * cos + rotate_half(q) * sin, where
// rotate_half(q) = Concat(-q[..., D/2:], q[..., :D/2]) and cos, sin [B, S, D] (then maybe scaled
// and cast) are unsqueezed to broadcast over heads. That is six to eight kernels a tensor, ~12 a
// layer, each reading and writing the tensor again and paying its own launch: at a decode step's
// sizes those, not the arithmetic, are the time. The tables come in two forms: Cos, Sin of
// Concat(freqs, freqs) computed from position_ids (transformers 4.38 on), or rows of constant
// cos_cached / sin_cached tables [rows, D] gathered by position_ids (4.35-4.37, and many
// published exports).
//
// The fused kernel reads cos and sin from a cache indexed by position. The cache is taken from the
// graph's own tables for this pass, so nothing about the rope (theta, scaling, dtype, how many
// positions a table holds) has to be re-derived: cos[b, s, :D/2] flattened to row b * S + s, and
// position_ids = 0 .. B * S - 1. Only the first half of each row is needed, which is exact when
// both halves of every row are equal. For computed tables the graph proves it (Concat(freqs,
// freqs) through elementwise ops); for constant ones nothing in the graph does, so each table is
// read once (tensor-bytes.ts) and every row compared. Every other part of the pattern is checked.

import { NAMES } from '../signature.ts'
import { intAttr, intNode, intsAttr, NewInitializers, onnx, producers, type ConstantReader, type IGraphProto, type INodeProto } from './graph-edit.ts'
import type { TensorBytes } from './tensor-bytes.ts'

interface Site {
  add: INodeProto
  /** The rotated tensor, [B, heads, S, D]. */
  x: string
  cos: string
  sin: string
}

/**
 * Replaces each rotary embedding the graph applies with one RotaryEmbedding node; returns how
 * many. `headDim` (from the cache inputs) is needed to accept Slice-based halves.
 */
export function fuseRotary(graph: IGraphProto, constants: ConstantReader, opset: number, headDim: number | null): number {
  const nodes = graph.node ?? []
  const pattern = new RotaryPattern(producers(nodes), constants, headDim, positionIdsInput(graph))
  const sites = nodes.map((n) => pattern.match(n)).filter((s): s is Site => s !== null)
  if (sites.length === 0) return 0

  const initializers = new NewInitializers(graph)
  const tables = new Map<string, { nodes: INodeProto[]; cos: string; sin: string; positions: string }>()
  const result: INodeProto[] = []
  const bySite = new Map(sites.map((s) => [s.add, s]))
  for (const n of nodes) {
    const site = bySite.get(n)
    if (!site) {
      result.push(n)
      continue
    }
    const key = `${site.cos}|${site.sin}`
    let table = tables.get(key)
    if (!table) {
      table = rotaryTables(site.cos, site.sin, `hearth/rotary${tables.size}`, initializers, opset)
      tables.set(key, table)
      result.push(...table.nodes)
    }
    result.push(
      onnx.NodeProto.create({
        opType: 'RotaryEmbedding',
        domain: 'com.microsoft',
        name: `${n.name || n.output![0]}/hearth_rotary`,
        input: [site.x, table.positions, table.cos, table.sin],
        output: [n.output![0]!],
        attribute: [{ name: 'interleaved', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
      }),
    )
  }
  graph.node = result
  initializers.commit()
  return sites.length
}

/**
 * The fused kernel's inputs for one pass, from the graph's cos and sin ([B, S, D]): the first half
 * of each row as a [B * S, D/2] cache, and position_ids [B, S] numbering its rows.
 */
function rotaryTables(cos: string, sin: string, base: string, initializers: NewInitializers, opset: number) {
  const nodes: INodeProto[] = []
  const node = (opType: string, input: string[], output: string[], attrs: Record<string, number> = {}): void => {
    nodes.push(intNode(`${base}/${output[0]!.split('/').pop()}`, opType, input, output, attrs))
  }
  const v = (s: string): string => `${base}/${s}`
  // Split into two equal halves: by default before opset 18, by num_outputs from it.
  const halves: Record<string, number> = opset >= 18 ? { axis: -1, num_outputs: 2 } : { axis: -1 }
  node('Split', [cos], [v('cos_half'), v('cos_rest')], halves)
  node('Split', [sin], [v('sin_half'), v('sin_rest')], halves)
  node('Flatten', [v('cos_half')], [v('cos_cache')], { axis: 2 })
  node('Flatten', [v('sin_half')], [v('sin_cache')], { axis: 2 })
  node('Shape', [cos], [v('table_shape')])
  node('Slice', [v('table_shape'), initializers.int64([0]), initializers.int64([2]), initializers.int64([0])], [v('batch_seq')])
  node('Shape', [v('cos_cache')], [v('cache_shape')])
  node('Gather', [v('cache_shape'), initializers.scalar(0)], [v('rows')], { axis: 0 })
  node('Range', [initializers.scalar(0), v('rows'), initializers.scalar(1)], [v('row_index')])
  node('Reshape', [v('row_index'), v('batch_seq')], [v('positions')])
  return { nodes, cos: v('cos_cache'), sin: v('sin_cache'), positions: v('positions') }
}

/** The position_ids input when the graph declares it as [batch, seq]; null otherwise. */
function positionIdsInput(graph: IGraphProto): string | null {
  const input = (graph.input ?? []).find((i) => i.name === NAMES.positionIds)
  return input?.type?.tensorType?.shape?.dim?.length === 2 ? NAMES.positionIds : null
}

class RotaryPattern {
  /** Whether each constant table's rows have equal halves, by name: read once however many layers gather from it. */
  private halvesEqual = new Map<string, boolean>()

  constructor(
    private producer: Map<string, INodeProto>,
    private constants: ConstantReader,
    private headDim: number | null,
    private positionIds: string | null,
  ) {}

  private op(value: string | undefined, opType: string): INodeProto | null {
    const p = value === undefined ? undefined : this.producer.get(value)
    return p && p.opType === opType && (p.domain ?? '') === '' ? p : null
  }

  /** x * C + rotate_half(x) * S, either operand order, with C and S the unsqueezed tables. */
  match(add: INodeProto): Site | null {
    if (add.opType !== 'Add' || (add.domain ?? '') !== '' || (add.input ?? []).length !== 2) return null
    const [a, b] = [this.op(add.input![0], 'Mul'), this.op(add.input![1], 'Mul')]
    if (!a || !b) return null
    const found = this.matchMuls(a, b) ?? this.matchMuls(b, a)
    return found && { add, ...found }
  }

  private matchMuls(direct: INodeProto, rotated: INodeProto): Omit<Site, 'add'> | null {
    for (const [r, s] of [[0, 1], [1, 0]] as const) {
      const x = this.rotateHalfOf(rotated.input![r]!)
      if (!x) continue
      const d = direct.input ?? []
      const c = d[0] === x ? d[1] : d[1] === x ? d[0] : undefined
      if (c === undefined || !this.isHeadsLayout(x)) continue
      const cos = this.unsqueezedAxis1(c)
      const sin = this.unsqueezedAxis1(rotated.input![s]!)
      if (!cos || !sin) continue
      const source = this.tableSource(cos, 'Cos')
      if (source === null || source !== this.tableSource(sin, 'Sin')) continue
      return { x, cos, sin }
    }
    return null
  }

  /** x, when `value` is Concat(-x[..., D/2:], x[..., :D/2]) on the last axis. */
  private rotateHalfOf(value: string): string | null {
    const concat = this.op(value, 'Concat')
    if (!concat || concat.input!.length !== 2 || !isLastAxis(intAttr(concat, 'axis'))) return null
    const neg = this.op(concat.input![0], 'Neg')
    if (!neg) return null
    return this.halvesOf(concat.input![1]!, neg.input![0]!)
  }

  /** x, when `first` and `second` are x's halves on its last axis (Split, or two Slices). */
  private halvesOf(first: string, second: string): string | null {
    const split = this.op(first, 'Split')
    if (split && this.producer.get(second) === split) {
      if (split.output!.length !== 2 || split.output![0] !== first || split.output![1] !== second) return null
      if (!isLastAxis(intAttr(split, 'axis') ?? 0)) return null
      const sizes = split.input![1] ? this.constants.ints(split.input![1]) : intsAttr(split, 'split')
      if (split.input![1] && !sizes) return null
      if (sizes && (sizes.length !== 2 || sizes[0] !== sizes[1] || (this.headDim !== null && sizes[0]! * 2 !== this.headDim))) return null
      return split.input![0]!
    }
    const lo = this.sliceOf(first)
    const hi = this.sliceOf(second)
    if (!lo || !hi || lo.data !== hi.data || this.headDim === null) return null
    const half = this.headDim / 2
    return lo.start === 0 && lo.end === half && hi.start === half && hi.end >= this.headDim ? lo.data : null
  }

  private sliceOf(value: string): { data: string; start: number; end: number } | null {
    const slice = this.op(value, 'Slice')
    if (!slice) return null
    const [data, starts, ends, axes, steps] = slice.input!
    const one = (name: string | undefined): number | null => {
      const v = name ? this.constants.ints(name) : null
      return v && v.length === 1 ? v[0]! : null
    }
    const start = one(starts)
    const end = one(ends)
    if (start === null || end === null || !axes || !isLastAxis(one(axes))) return null
    if (steps && one(steps) !== 1) return null
    return { data: data!, start, end }
  }

  /** [B, heads, S, D] as transformers makes it: a view transposed by (0, 2, 1, 3). */
  private isHeadsLayout(x: string): boolean {
    const t = this.op(x, 'Transpose')
    return t !== null && (intsAttr(t, 'perm') ?? []).join() === '0,2,1,3'
  }

  /** t, when `value` is Unsqueeze(t, axes=[1]). */
  private unsqueezedAxis1(value: string): string | null {
    const u = this.op(value, 'Unsqueeze')
    if (!u) return null
    const axes = u.input![1] ? this.constants.ints(u.input![1]) : intsAttr(u, 'axes')
    return axes && axes.length === 1 && axes[0] === 1 ? u.input![0]! : null
  }

  /**
   * Where the rows of `table` [B, S, D] come from, when both halves of each are equal: 'freqs:f'
   * for Cos (or Sin) of Concat(f, f) on the last axis, 'rows:ids' for rows of a constant table
   * gathered by the position_ids input; either followed only by casts and scalings by a constant
   * scalar (which keep the halves equal). cos and sin must come from the same.
   */
  private tableSource(table: string, trig: 'Cos' | 'Sin'): string | null {
    let value = table
    for (;;) {
      const p = this.producer.get(value)
      if (!p || (p.domain ?? '') !== '') return null
      if (p.opType === 'Cast') {
        value = p.input![0]!
      } else if (p.opType === 'Mul' && this.isScalar(p.input![1]!)) {
        value = p.input![0]!
      } else if (p.opType === 'Mul' && this.isScalar(p.input![0]!)) {
        value = p.input![1]!
      } else if (p.opType === 'Div' && this.isScalar(p.input![1]!)) {
        value = p.input![0]!
      } else if (p.opType === trig) {
        const concat = this.op(p.input![0], 'Concat')
        if (!concat || concat.input!.length !== 2 || concat.input![0] !== concat.input![1]) return null
        const axis = intAttr(concat, 'axis')
        return axis === -1 || axis === 2 ? `freqs:${concat.input![0]!}` : null
      } else if (p.opType === 'Gather') {
        return this.gatheredRows(p)
      } else {
        return null
      }
    }
  }

  /**
   * 'rows:ids' when `gather` takes whole rows (axis 0) of a constant table by the position_ids input
   * [B, S], so its output is [B, S, D], and each row of the table has equal halves. Between the
   * table and the Gather only casts and Slices or Squeezes of other axes than the last (as
   * `cos_cached[:seq_len]` exports) are accepted: they keep every row whole.
   */
  private gatheredRows(gather: INodeProto): string | null {
    const [data, indices] = gather.input ?? []
    if ((intAttr(gather, 'axis') ?? 0) !== 0 || !data || !indices || this.positionIds === null) return null
    const cast = this.op(indices, 'Cast')
    if ((cast ? cast.input![0] : indices) !== this.positionIds) return null
    const between: INodeProto[] = []
    let value = data
    // Down to an initializer (no producer) or a Constant node: ConstantReader holds either.
    for (let p = this.producer.get(value); p && p.opType !== 'Constant'; p = this.producer.get(value)) {
      if ((p.domain ?? '') !== '' || !['Cast', 'Slice', 'Squeeze'].includes(p.opType!)) return null
      between.unshift(p)
      value = p.input![0]!
    }
    const table = this.constants.floatBytes(value)
    if (!table) return null
    let rank = table.dims.length
    for (const p of between) {
      if (p.opType === 'Cast') continue
      // Slice's axes default to every axis, Squeeze's to every axis of size 1: the last may be one.
      const axesInput = p.input![p.opType === 'Slice' ? 3 : 1]
      const axes = axesInput ? this.constants.ints(axesInput) : intsAttr(p, 'axes')
      if (!axes || axes.some((a) => (a < 0 ? a + rank : a) === rank - 1)) return null
      if (p.opType === 'Squeeze') rank -= axes.length
    }
    const D = table.dims[table.dims.length - 1]!
    if (rank !== 2 || D % 2 !== 0 || (this.headDim !== null && D !== this.headDim)) return null
    return this.rowHalvesEqual(value, table) ? `rows:${indices}` : null
  }

  /** Whether both halves of every row of the constant are equal, bit for bit. */
  private rowHalvesEqual(name: string, table: TensorBytes): boolean {
    let equal = this.halvesEqual.get(name)
    if (equal === undefined) {
      const half = (table.dims[table.dims.length - 1]! / 2) * table.elementBytes
      const bytes = Buffer.from(table.bytes.buffer, table.bytes.byteOffset, table.bytes.byteLength)
      equal = bytes.length > 0
      for (let row = 0; equal && row < bytes.length; row += 2 * half) equal = bytes.compare(bytes, row, row + half, row + half, row + 2 * half) === 0
      this.halvesEqual.set(name, equal)
    }
    return equal
  }

  private isScalar(name: string): boolean {
    return this.constants.size(name) === 1
  }
}

/**
 * Whether `axis` is the last of a [B, heads, S, D] tensor. Only that layout is accepted
 * (isHeadsLayout), so an axis 3 seen before the layout is checked is last too, or the match fails.
 */
function isLastAxis(axis: number | null): boolean {
  return axis === -1 || axis === 3
}
