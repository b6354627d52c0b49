// The ONNX message types the load-time rewrites work on, and what they share: finding producers
// and consumers, building nodes, reading known constants, adding int64 initializers, and putting
// the node list back in order after an edit.

import onnxProto from 'onnx-proto'
import { floatTensorBytes, type TensorBytes } from './tensor-bytes.ts'

export const { onnx } = onnxProto
export type INodeProto = onnxProto.onnx.INodeProto
export type IGraphProto = onnxProto.onnx.IGraphProto
export type ITensorProto = onnxProto.onnx.ITensorProto

/** Slice's "to the end". */
export const INT64_MAX = 9223372036854775807n

/** Why a graph cannot take a rewrite; the engine then loads it as it is and says why. */
export class RewriteUnsupported extends Error {}

/** Each value's producing node. */
export function producers(nodes: INodeProto[]): Map<string, INodeProto> {
  const producer = new Map<string, INodeProto>()
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n)
  return producer
}

export function consumersOf(nodes: INodeProto[], value: string): INodeProto[] {
  return nodes.filter((n) => (n.input ?? []).includes(value))
}

/** A default-domain node whose attributes are all ints. */
export function intNode(name: string, opType: string, input: string[], output: string[], attrs: Record<string, number> = {}): INodeProto {
  return onnx.NodeProto.create({
    opType,
    name,
    input,
    output,
    attribute: Object.entries(attrs).map(([key, i]) => ({ name: key, type: onnx.AttributeProto.AttributeType.INT, i })),
  })
}

export function intAttr(node: INodeProto, name: string): number | null {
  const a = (node.attribute ?? []).find((x) => x.name === name)
  return a?.i === undefined || a.i === null ? null : Number(a.i)
}

export function intsAttr(node: INodeProto, name: string): number[] | null {
  const a = (node.attribute ?? []).find((x) => x.name === name)
  return a?.ints && a.ints.length > 0 ? a.ints.map(Number) : null
}

/**
 * Keeps only the nodes that some graph output depends on. Followed through producers, not the
 * list: a pass may leave a producer after its reader until sortNodes puts it back.
 */
export function removeDeadNodes(graph: IGraphProto): void {
  const nodes = graph.node ?? []
  const producer = producers(nodes)
  const needed = new Set<INodeProto>()
  const queue = (graph.output ?? []).map((o) => o.name!)
  while (queue.length > 0) {
    const n = producer.get(queue.pop()!)
    if (!n || needed.has(n)) continue
    needed.add(n)
    for (const input of n.input ?? []) if (input) queue.push(input)
  }
  graph.node = nodes.filter((n) => needed.has(n))
}

/**
 * Orders the nodes so each comes after the producers of its inputs, as ONNX requires. Stable: a
 * node is moved only when it is read before it is produced, and then just ahead of its first
 * reader, so a list already in order is left as it is. Throws on a cycle.
 */
export function sortNodes(graph: IGraphProto): void {
  const nodes = graph.node ?? []
  const producer = producers(nodes)
  const placed = new Set<INodeProto>()
  // Nodes waiting for a producer: on the stack below its top.
  const waiting = new Set<INodeProto>()
  const sorted: INodeProto[] = []
  for (const root of nodes) {
    const stack = [root]
    while (stack.length > 0) {
      const n = stack[stack.length - 1]!
      if (placed.has(n)) {
        stack.pop()
        continue
      }
      const pending = (n.input ?? []).map((i) => (i ? producer.get(i) : undefined)).find((p) => p !== undefined && !placed.has(p))
      if (pending) {
        if (waiting.has(pending) || pending === n) throw new RewriteUnsupported(`the graph has a cycle through ${n.name || n.opType}`)
        waiting.add(n)
        stack.push(pending)
        continue
      }
      waiting.delete(n)
      placed.add(n)
      sorted.push(n)
      stack.pop()
    }
  }
  graph.node = sorted
}

/** The initializers too large to decode with the graph, for a pass that must read one. */
export interface LargeConstants {
  /** The initializer `name`, decoded on demand; null when there is none. */
  tensor(name: string): ITensorProto | null
  /** The folder of the model's external data files; null: none can be read. */
  externalDir: string | null
}

/**
 * Values of the constants a rewrite needs to read (Slice bounds, Unsqueeze axes, scalars): from
 * Constant nodes, and from the small initializers decoded beside the graph. The large ones are
 * carried over as raw bytes, and read only by name (floatBytes) when `large` is given.
 */
export class ConstantReader {
  private tensors = new Map<string, ITensorProto>()
  constructor(
    graph: IGraphProto,
    small: Iterable<ITensorProto> = [],
    private large: LargeConstants | null = null,
  ) {
    for (const t of [...small, ...(graph.initializer ?? [])]) if (t.name) this.tensors.set(t.name, t)
    for (const n of graph.node ?? []) {
      if (n.opType !== 'Constant' || (n.domain ?? '') !== '') continue
      const a = (n.attribute ?? [])[0]
      if (!a) continue
      if (a.name === 'value' && a.t) this.tensors.set(n.output![0]!, a.t)
      else if (a.name === 'value_int') this.tensors.set(n.output![0]!, { dims: [], dataType: onnx.TensorProto.DataType.INT64, int64Data: [a.i!] })
      else if (a.name === 'value_ints') this.tensors.set(n.output![0]!, { dims: [a.ints!.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: a.ints! })
      else if (a.name === 'value_float') this.tensors.set(n.output![0]!, { dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [a.f!] })
    }
  }

  /** How many elements the constant holds, or null when it is not a known constant. */
  size(name: string): number | null {
    const t = this.tensors.get(name)
    return t ? (t.dims ?? []).reduce((n: number, d) => n * Number(d), 1) : null
  }

  /** A float constant's bytes as stored, large ones too; null when `name` is not one or cannot be read. */
  floatBytes(name: string): TensorBytes | null {
    const t = this.tensors.get(name) ?? this.large?.tensor(name) ?? null
    return t ? floatTensorBytes(t, this.large?.externalDir ?? null) : null
  }

  /** A float32 constant's values, or null when `name` is not one. */
  floats(name: string): number[] | null {
    const t = this.tensors.get(name)
    if (!t || t.dataType !== onnx.TensorProto.DataType.FLOAT) return null
    if (t.floatData && t.floatData.length > 0) return [...t.floatData]
    if (t.rawData && t.rawData.length % 4 === 0) {
      const raw = t.rawData
      return [...new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))]
    }
    return null
  }

  /** An int64 or int32 constant's values, or null when `name` is not one. */
  ints(name: string): number[] | null {
    const t = this.tensors.get(name)
    if (!t) return null
    const { INT64, INT32 } = onnx.TensorProto.DataType
    if (t.dataType === INT64) {
      if (t.int64Data && t.int64Data.length > 0) return t.int64Data.map(Number)
      if (t.rawData && t.rawData.length % 8 === 0) {
        const raw = t.rawData
        return [...new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))].map(clampToNumber)
      }
    } else if (t.dataType === INT32) {
      if (t.int32Data && t.int32Data.length > 0) return [...t.int32Data]
      if (t.rawData && t.rawData.length % 4 === 0) {
        const raw = t.rawData
        return [...new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))]
      }
    }
    return null
  }
}

/** int64 extremes (Slice's "to the end") as the nearest safe numbers. */
function clampToNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER
  if (v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER
  return Number(v)
}

/**
 * The int64 initializers a pass adds, named by their values (one per value, however often it is
 * asked for), added to the decoded part of the graph on `commit`.
 */
export class NewInitializers {
  private added = new Map<string, ITensorProto>()
  constructor(private graph: IGraphProto) {}

  int64(values: (number | bigint)[]): string {
    return this.add(`hearth/int64[${values.join(',')}]`, values, [values.length])
  }

  /** A 0-D int64 (Range's start, limit and delta are scalars). */
  scalar(value: number): string {
    return this.add(`hearth/int64(${value})`, [value], [])
  }

  private add(name: string, values: (number | bigint)[], dims: number[]): string {
    if (!this.added.has(name) && !(this.graph.initializer ?? []).some((t) => t.name === name)) {
      const data = BigInt64Array.from(values.map(BigInt))
      this.added.set(name, { name, dataType: onnx.TensorProto.DataType.INT64, dims, rawData: new Uint8Array(data.buffer) })
    }
    return name
  }

  commit(): void {
    this.graph.initializer = [...(this.graph.initializer ?? []), ...this.added.values()]
    this.added.clear()
  }
}
