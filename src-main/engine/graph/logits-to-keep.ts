// Gives a graph without num_logits_to_keep that input, so a prefill computes the last position's
// logits only, not every position's (PERFORMANCE.md).

import { NAMES } from '../signature.ts'
import { INT64_MAX, NewInitializers, onnx, producers, RewriteUnsupported, type IGraphProto, type INodeProto } from './graph-edit.ts'

export function hasLogitsToKeep(graph: IGraphProto): boolean {
  return (graph.input ?? []).some((i) => i.name === NAMES.numLogitsToKeep || i.name === NAMES.logitsToKeep)
}

/**
 * Adds a `num_logits_to_keep` input as Optimum's newer exports have it: k keeps the last k
 * positions' logits, 0 keeps all. The hidden states entering the lm_head ([batch, seq, hidden],
 * before any flattening Reshape) are sliced on the sequence axis.
 */
export function addLogitsToKeep(graph: IGraphProto): void {
  const inputs = graph.input ?? []
  if (hasLogitsToKeep(graph)) throw new RewriteUnsupported(`the graph already has ${NAMES.numLogitsToKeep}`)
  const nodes = graph.node ?? []
  const producer = producers(nodes)
  // From the logits back to the lm_head, through what may follow it (reshape, bias, cast, scale).
  let head = producer.get(NAMES.logits)
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

  const initializers = new NewInitializers(graph)
  const keep = NAMES.numLogitsToKeep
  const sliced = `${hidden}/hearth_last`
  const start = `${keep}/hearth_start`
  const added: INodeProto[] = [
    onnx.NodeProto.create({ opType: 'Unsqueeze', name: `${keep}/hearth_unsqueeze`, input: [keep, initializers.int64([0])], output: [`${keep}/hearth_1d`] }),
    onnx.NodeProto.create({ opType: 'Neg', name: `${keep}/hearth_neg`, input: [`${keep}/hearth_1d`], output: [start] }),
    onnx.NodeProto.create({ opType: 'Slice', name: `${sliced}_slice`, input: [hidden, start, initializers.int64([INT64_MAX]), initializers.int64([1])], output: [sliced] }),
  ]
  for (const n of nodes) n.input = (n.input ?? []).map((v) => (v === hidden ? sliced : v))
  const at = nodes.indexOf(producer.get(hidden)!) + 1
  graph.node = [...nodes.slice(0, at), ...added, ...nodes.slice(at)]
  graph.input = [
    ...inputs,
    onnx.ValueInfoProto.create({ name: keep, type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: [] } } } }),
  ]
  initializers.commit()
}
