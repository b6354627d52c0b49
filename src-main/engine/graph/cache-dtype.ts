// Keeps an in-place graph's KV cache in another element type than the export computes in: each
// past input is cast to the graph's type where it is read, each fresh output cast to the cache's
// type where it leaves. A float32 export's cache in float16 takes half the memory (and half the
// snapshot on disk) for one rounding of every key and value; attention still runs in float32.

import type { KvDtype } from '../../../src-shared/types.ts'
import { FRESH, PAST } from '../signature.ts'
import { onnx, RewriteUnsupported, type IGraphProto, type INodeProto } from './graph-edit.ts'

const ELEM = { float32: onnx.TensorProto.DataType.FLOAT, float16: onnx.TensorProto.DataType.FLOAT16 } as const

/**
 * Changes the type of `graph`'s past inputs and fresh outputs to `dtype`; returns how many it
 * changed (0 when the cache already is `dtype`). Only for a graph rewritten in place: an export's
 * own present outputs are the whole cache, which a cast would copy every step.
 */
export function castCache(graph: IGraphProto, dtype: KvDtype): number {
  const target = ELEM[dtype]
  const pasts = (graph.input ?? []).filter((i) => PAST.test(i.name ?? ''))
  const freshes = (graph.output ?? []).filter((o) => FRESH.test(o.name ?? ''))
  if (freshes.length !== pasts.length || pasts.length === 0) throw new RewriteUnsupported('the cache type can change only in a graph updated in place')
  const nodes = graph.node ?? []
  const added: INodeProto[] = []
  let changed = 0
  for (const input of pasts) {
    const tensor = input.type?.tensorType
    const own = tensor?.elemType
    if (!tensor || own === target) continue
    if (own !== ELEM.float32 && own !== ELEM.float16) throw new RewriteUnsupported(`${input.name} is neither float32 nor float16`)
    const name = input.name!
    const read = `hearth/cast/${name}`
    for (const n of nodes) n.input = (n.input ?? []).map((x) => (x === name ? read : x))
    added.push(cast(name, read, own))
    tensor.elemType = target
    changed++
  }
  for (const output of freshes) {
    const tensor = output.type?.tensorType
    if (!tensor || tensor.elemType === target) continue
    const name = output.name!
    const computed = `hearth/cast/${name}`
    // Read inside the graph too ('append' concatenates it onto the past): those reads keep the graph's type.
    for (const n of nodes) {
      n.output = (n.output ?? []).map((x) => (x === name ? computed : x))
      n.input = (n.input ?? []).map((x) => (x === name ? computed : x))
    }
    added.push(cast(computed, name, target))
    tensor.elemType = target
    changed++
  }
  // Casts of the inputs first, so the list stays in order; those of the outputs after everything.
  graph.node = [...added.filter((n) => PAST.test(n.input![0]!)), ...nodes, ...added.filter((n) => !PAST.test(n.input![0]!))]
  return changed
}

function cast(from: string, to: string, elemType: number): INodeProto {
  return onnx.NodeProto.create({
    opType: 'Cast',
    name: to,
    input: [from],
    output: [to],
    attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: elemType }],
  })
}
