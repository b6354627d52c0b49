// Rewrites a decoder model at load: the in-place KV update (in-place.ts), then last-position
// logits (logits-to-keep.ts), then the fusions (fuse-rotary.ts, fuse-skip-norm.ts), then the
// cache's element type where one is asked for (cache-dtype.ts), in that order.
//
// A pass may leave a node ahead of a producer it now reads (an export places each Constant just
// before its reader, and a pass may add a reader earlier): the node list is put back in
// dependency order after every pass, so each pass starts from a valid graph.

import type { KvDtype } from '../../../src-shared/types.ts'
import { PAST } from '../signature.ts'
import { castCache } from './cache-dtype.ts'
import { fuseRotary } from './fuse-rotary.ts'
import { fuseSkipNorm } from './fuse-skip-norm.ts'
import { ConstantReader, onnx, removeDeadNodes, RewriteUnsupported, sortNodes, type IGraphProto } from './graph-edit.ts'
import { rewriteGraph, type InPlaceUpdate } from './in-place.ts'
import { addLogitsToKeep, hasLogitsToKeep } from './logits-to-keep.ts'
import { OnnxFile, type ByteSource } from './onnx-file.ts'

export { RewriteUnsupported }
export type { InPlaceUpdate }

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
  /** The folder of the model's external data: the rotary fusion reads cos/sin tables kept there. */
  externalDataDir?: string
  /** Keep the cache in this element type, whatever the export computes in; absent: the export's. */
  kvDtype?: KvDtype
  /**
   * The model file's name, when `model` is that file (a FileSource): inline weights are written as
   * references into it (OnnxFile's `location`), so onnxruntime, given the file's folder, reads them
   * from there and no copy of them is made.
   */
  location?: string
  /** Give every 4-bit matmul (MatMulNBits) int8 activations: accuracy_level 4. */
  int8Activations?: boolean
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
  /** The 4-bit matmuls given int8 activations (0 unless asked, or without any). */
  int8Matmuls: number
  /** Whether the cache's element type was changed from the export's (kvDtype). */
  castCache: boolean
}

export interface Fused {
  /** Rotary embeddings, one RotaryEmbedding kernel each. */
  rotary: number
  /** Residual Adds and the RMSNorms reading them, one SkipSimplifiedLayerNormalization each. */
  skipNorm: number
}

export function rewriteModel(model: Uint8Array | ByteSource, kind: InPlaceUpdate, opts: RewriteOptions = {}): RewrittenModel {
  const file = new OnnxFile(model, opts.location === undefined ? {} : { location: opts.location })
  const { graph, opset } = file
  if (opset < 13) throw new RewriteUnsupported(`opset ${opset} (13 or newer needed)`)

  // Fusing reads Slice bounds and scalars, which live in small initializers: decode those, never
  // the weights. A large one is read only by name: a cos/sin table the rotary fusion must check.
  const large = { tensor: (name: string) => file.initializer(name), externalDir: opts.externalDataDir ?? null }
  const constants = opts.fuse ? new ConstantReader(graph, file.smallInitializers(), large) : null
  const { freshNames, folded } = rewriteGraph(graph, kind, opts.foldRepeatKv ?? true, constants)
  const logitsNote = opts.lastLogits ? keepLastLogits(graph) : null
  const { fused, fuseNote } = constants ? fuse(graph, constants, opset) : { fused: { rotary: 0, skipNorm: 0 }, fuseNote: null }
  const cast = opts.kvDtype ? castCache(graph, opts.kvDtype) > 0 : false
  const int8Matmuls = opts.int8Activations ? int8Activations(graph) : 0
  return { bytes: file.encode({ contribOps: fused.rotary + fused.skipNorm > 0 }), freshNames, logitsNote, folded, fused, fuseNote, int8Matmuls, castCache: cast }
}

/**
 * Sets accuracy_level 4 on every 4-bit MatMulNBits: onnxruntime then quantizes each row of
 * activations to int8 per block and multiplies in integers (MLAS's CompInt8 kernels), as
 * llama.cpp's q4 kernels do with q8 activations. 8-bit ones (the GGUF importer's q8) keep exact
 * activations: their speed with int8 was not measured. Returns how many were set.
 */
function int8Activations(graph: IGraphProto): number {
  let n = 0
  for (const node of graph.node ?? []) {
    if (node.opType !== 'MatMulNBits' || node.domain !== 'com.microsoft') continue
    if (Number(node.attribute?.find((a) => a.name === 'bits')?.i ?? 4) !== 4) continue
    node.attribute = [
      ...(node.attribute ?? []).filter((a) => a.name !== 'accuracy_level'),
      onnx.AttributeProto.create({ name: 'accuracy_level', type: onnx.AttributeProto.AttributeType.INT, i: 4 }),
    ]
    n++
  }
  return n
}

/** Adds num_logits_to_keep unless the graph has it; returns why it could not, or null. */
function keepLastLogits(graph: IGraphProto): string | null {
  if (hasLogitsToKeep(graph)) return null
  try {
    addLogitsToKeep(graph)
  } catch (err) {
    if (!(err instanceof RewriteUnsupported)) throw err
    return err.message
  }
  sortNodes(graph)
  return null
}

/** Runs the fusions on a copy: one that throws leaves `graph` as it was, with a note. */
function fuse(graph: IGraphProto, constants: ConstantReader, opset: number): { fused: Fused; fuseNote: string | null } {
  const headDim = (graph.input ?? []).find((i) => PAST.test(i.name ?? ''))?.type?.tensorType?.shape?.dim?.[3]?.dimValue
  const copy = onnx.GraphProto.decode(onnx.GraphProto.encode(graph).finish())
  try {
    const rotary = fuseRotary(copy, constants, opset, headDim ? Number(headDim) : null)
    sortNodes(copy)
    const skipNorm = fuseSkipNorm(copy, constants)
    removeDeadNodes(copy)
    sortNodes(copy)
    Object.assign(graph, copy)
    return { fused: { rotary, skipNorm }, fuseNote: null }
  } catch (err) {
    return { fused: { rotary: 0, skipNorm: 0 }, fuseNote: `nothing fused (${(err as Error).message})` }
  }
}
