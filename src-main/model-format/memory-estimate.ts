// The memory a model needs: one estimate for the engine's refusal before loading (MODEL_TOO_BIG)
// and the library's fit verdicts, so the UI's "fits" and the engine's answer cannot disagree.
//
// For one variant at context C, in bytes:
//   weights  = the variant's files on disk (ONNX initializers load about 1:1)
//   kv       = 2 (keys, values) × layers × kvHeads × headDim × C × bytes per element
//   overhead = runtime base + 10% of weights (arena, prepacked kernels)
//            + kv again when the cache is updated by copy
//            + logits of one prefill pass: min(chunk, C) × vocab × 4
//            + what loading holds besides the weights
//
// Why each term is what it is:
// - kv is held once. The engine rewrites the graph (engine/graph/in-place.ts) so a pass returns only the new
//   tokens' keys and values, which are written into the one cache: no past and present copies.
//   With kvUpdate 'copy' (WebGPU, which is never rewritten, or a graph the rewrite refused) a step
//   feeds the whole past and gets a whole present back, both alive until it ends: kv twice.
//   Only WebGPU is known to copy before loading, so every other provider is counted in place.
//   The library's fit (models/hardware-fit.ts) names no provider, so it assumes one in place:
//   on WebGPU, where the engine counts kv twice, a model the library says fits may be refused.
// - The prefill chunk is the engine's (DEFAULT_PREFILL_CHUNK unless the load sets one); logits are
//   float32 [chunk, vocab] for exports that cannot return the last position alone.
// - Loading reads the .onnx and builds a rewritten copy of it in memory while onnxruntime copies
//   the initializers out: 2 × the .onnx file's size, which is the weights when they sit inside it
//   and only the graph when they are external data. WebGPU opens the file as it is: none. It is
//   added, not taken as a separate peak: both buffers go when V8 collects them, which may be after
//   the first prompt has grown the cache. They are host RAM: a fit judged against GPU memory
//   leaves them out.
// - The runtime base covers the engine process (Node and onnxruntime, ~100 MiB resident) and a
//   session's fixed allocations (~30 MiB for the tiny test model, more for larger graphs).
// It covers one conversation's cache at C; the engine's pool holding several is bounded by its own
// kvBudgetBytes.

import type { KvDtype, ProviderName, VariantName } from '../../src-shared/types.ts'

/** Context positions an estimate reserves KV for when none is asked: a long chat, not a model's maximum. */
export const ESTIMATE_CONTEXT = 4096

/**
 * Default prompt tokens per prefill pass. Bounds what a pass materialises: attention scores
 * [heads, chunk, context] in exports built from standard ops, and logits [chunk, vocab] in those
 * without num_logits_to_keep (a 4000-token prompt in one pass would need gigabytes for either).
 * 256 was the fastest measured at 512- and 2048-token prompts (engine/PERFORMANCE.md).
 */
export const DEFAULT_PREFILL_CHUNK = 256

const RUNTIME_BASE = 300 * 1024 * 1024
const ARENA_FRACTION = 0.1

export interface KvShape {
  layers: number
  kvHeads: number
  headDim: number
}

export interface MemoryShape extends KvShape {
  vocabSize: number
  /** The cache dtype config.json declares; absent or null: the variant's own (kvDtypeOf). */
  declaredKvDtype?: KvDtype | null | undefined
}

export interface EstimateOptions {
  context: number
  /** Prompt tokens per prefill pass; absent or 0: DEFAULT_PREFILL_CHUNK. */
  chunk?: number | undefined
  /** The provider that will run it; absent: one that updates the cache in place. */
  provider?: ProviderName | undefined
  /** Size of the .onnx file alone; absent: the weights are external and the graph negligible. */
  onnxFileBytes?: number | undefined
}

export interface MemoryEstimate {
  weightsBytes: number
  /** One copy of the cache at the context asked for. */
  kvBytes: number
  overheadBytes: number
  /** What loading holds besides the weights; part of overheadBytes. */
  loadingBytes: number
  totalBytes: number
}

/** Bytes one token of KV cache takes: keys and values, every layer. */
export function kvBytesPerToken(shape: KvShape, dtype: KvDtype): number {
  return 2 * shape.layers * shape.kvHeads * shape.headDim * (dtype === 'float16' ? 2 : 4)
}

/** The declared cache dtype, else float16 for fp16-activation exports and float32 for the rest. */
export function kvDtypeOf(variant: VariantName, declared?: KvDtype | null): KvDtype {
  return declared ?? (variant === 'fp16' || variant === 'q4f16' ? 'float16' : 'float32')
}

export function estimateMemory(
  shape: MemoryShape,
  variant: { name: VariantName; bytes: number },
  opts: EstimateOptions,
): MemoryEstimate {
  const { context, provider } = opts
  const kv = kvBytesPerToken(shape, kvDtypeOf(variant.name, shape.declaredKvDtype)) * context
  const copies = provider === 'webgpu' ? 2 : 1
  const chunk = opts.chunk && opts.chunk > 0 ? opts.chunk : DEFAULT_PREFILL_CHUNK
  const logits = Math.min(chunk, context) * shape.vocabSize * 4
  const loading = provider === 'webgpu' ? 0 : 2 * (opts.onnxFileBytes ?? 0)
  const overhead = Math.round(RUNTIME_BASE + ARENA_FRACTION * variant.bytes + (copies - 1) * kv + logits + loading)
  return {
    weightsBytes: variant.bytes,
    kvBytes: kv,
    overheadBytes: overhead,
    loadingBytes: loading,
    totalBytes: variant.bytes + kv + overhead,
  }
}
