// Fuses each residual Add and the RMSNorm that reads it into onnxruntime's
// SkipSimplifiedLayerNormalization kernel (com.microsoft), at load (PERFORMANCE.md).
//
// onnxruntime fuses an exported RMSNorm into one SimplifiedLayerNormalization kernel by itself,
// but leaves the residual Add before it: one more kernel per norm, ~60 in a 30-layer model. The
// fused kernel also returns the sum, which the next residual reads.
//
// RMSNorm as torch exports transformers' LlamaRMSNorm (and kin), x the residual sum:
//   Mul(weight, Mul(x, rsqrt))  or  Mul(weight, Div(x, root))   (either operand order)
//   rsqrt = Div(1, root) or Reciprocal(root); root = Sqrt(Add(ReduceMean(Pow(x, 2) or x * x), eps))
// with ReduceMean over the last axis only, keeping it, and eps a constant scalar. Anything else,
// casts included (fp16 exports), is left alone.

import { intAttr, intsAttr, onnx, producers, type ConstantReader, type IGraphProto, type INodeProto } from './graph-edit.ts'

interface Site {
  /** The residual Add. */
  add: INodeProto
  /** The norm's last Mul, replaced by the fused node. */
  out: INodeProto
  weight: string
  epsilon: number
}

/** Replaces each residual Add + RMSNorm with one SkipSimplifiedLayerNormalization; returns how many. */
export function fuseSkipNorm(graph: IGraphProto, constants: ConstantReader): number {
  const nodes = graph.node ?? []
  const producer = producers(nodes)
  const graphInputs = new Set((graph.input ?? []).map((i) => i.name))
  // Neither produced by a node nor a graph input: an initializer (the weights are not decoded).
  const isInitializer = (v: string): boolean => !producer.has(v) && !graphInputs.has(v)
  const sites: Site[] = []
  const claimed = new Set<INodeProto>()
  for (const n of nodes) {
    const site = matchNorm(n, producer, constants, isInitializer)
    if (!site || claimed.has(site.add)) continue
    claimed.add(site.add)
    sites.push(site)
  }
  if (sites.length === 0) return 0

  // The fused node takes the Add's place: its inputs are ready there, and everything that reads
  // the sum or the norm comes after it. The norm's own nodes are left for removeDeadNodes.
  const byAdd = new Map(sites.map((s) => [s.add, s]))
  graph.node = nodes.map((n) => {
    const site = byAdd.get(n)
    if (!site) return n
    return onnx.NodeProto.create({
      opType: 'SkipSimplifiedLayerNormalization',
      domain: 'com.microsoft',
      name: `${site.out.name || site.out.output![0]}/hearth_skip_norm`,
      input: [n.input![0]!, n.input![1]!, site.weight],
      // output, mean, inv_std_var, input_skip_bias_sum: the residual sum keeps the Add's name.
      output: [site.out.output![0]!, '', '', n.output![0]!],
      attribute: [{ name: 'epsilon', type: onnx.AttributeProto.AttributeType.FLOAT, f: site.epsilon }],
    })
  })
  // The norm's last Mul no longer writes its output: the fused node does.
  const outs = new Set(sites.map((s) => s.out))
  graph.node = graph.node.filter((n) => !outs.has(n))
  return sites.length
}

function matchNorm(
  last: INodeProto,
  producer: Map<string, INodeProto>,
  constants: ConstantReader,
  isInitializer: (v: string) => boolean,
): Site | null {
  const op = (v: string | undefined, type: string): INodeProto | null => {
    const p = v === undefined ? undefined : producer.get(v)
    return p && p.opType === type && (p.domain ?? '') === '' ? p : null
  }
  if (last.opType !== 'Mul' || (last.domain ?? '') !== '' || last.input!.length !== 2) return null
  for (const [w, y] of [[0, 1], [1, 0]] as const) {
    const weight = last.input![w]!
    if (!isInitializer(weight)) continue
    const normed = producer.get(last.input![y]!)
    if (!normed || (normed.domain ?? '') !== '') continue
    // x * rsqrt (either order), or x / root.
    let x: string | null = null
    let root: INodeProto | null = null
    if (normed.opType === 'Div') {
      x = normed.input![0]!
      root = op(normed.input![1], 'Sqrt')
    } else if (normed.opType === 'Mul') {
      for (const [a, b] of [[0, 1], [1, 0]] as const) {
        const r = producer.get(normed.input![b]!)
        if (r?.opType === 'Reciprocal') root = op(r.input![0], 'Sqrt')
        else if (r?.opType === 'Div' && constants.floats(r.input![0]!)?.join() === '1') root = op(r.input![1], 'Sqrt')
        if (root) {
          x = normed.input![a]!
          break
        }
      }
    }
    if (!x || !root) continue
    const add = op(root.input![0], 'Add')
    if (!add) continue
    const [meanIn, epsIn] = op(add.input![0], 'ReduceMean') ? [add.input![0]!, add.input![1]!] : [add.input![1]!, add.input![0]!]
    const mean = op(meanIn, 'ReduceMean')
    const eps = constants.floats(epsIn)
    if (!mean || !eps || eps.length !== 1) continue
    const axes = mean.input![1] ? constants.ints(mean.input![1]) : intsAttr(mean, 'axes')
    if (!axes || axes.length !== 1 || axes[0] !== -1 || (intAttr(mean, 'keepdims') ?? 1) !== 1) continue
    const square = producer.get(mean.input![0]!)
    const squares =
      (square?.opType === 'Pow' && square.input![0] === x && constants.floats(square.input![1]!)?.join() === '2') ||
      (square?.opType === 'Mul' && square.input![0] === x && square.input![1] === x)
    if (!squares) continue
    // x must be a residual sum of two tensors.
    const residual = op(x, 'Add')
    if (!residual || residual.input!.length !== 2) continue
    return { add: residual, out: last, weight, epsilon: eps[0]! }
  }
  return null
}
