// Will a model fit? Memory for weights + KV cache + overhead against RAM or GPU memory. Pure.
//
// The estimate, in bytes, for one variant at context length C:
//   weights  = the variant's files on disk (ONNX initializers load about 1:1)
//   kv       = 2 (keys, values) × layers × kvHeads × headDim × C × bytes per element
//   overhead = runtime base + 10% of weights (arena, prepacked kernels)
//            + kv again (a step holds the past it was fed and the present it returns)
//            + logits of one prefill chunk (chunk × vocab × 4)
// It covers one conversation's cache at C; the engine's pool holding several costs more.

import os from 'node:os'
import { AppError } from '../../src-shared/errors.ts'
import type { FitEstimate, FitReport, FitVerdict, MemoryBudget, VariantName } from '../../src-shared/types.ts'

export interface ModelShape {
  layers: number
  kvHeads: number
  headDim: number
  vocabSize: number
  /** The model's maximum context; maxContext never exceeds it. */
  contextLength: number
}

export interface VariantSize {
  name: VariantName
  bytes: number
}

export interface FitRequest {
  shape: ModelShape
  variants: VariantSize[]
  context: number
  budget: MemoryBudget
  /** Judge this variant; without it the best one is chosen. */
  variant?: VariantName | undefined
}

const RUNTIME_BASE = 300 * 1024 * 1024
const ARENA_FRACTION = 0.1
const PREFILL_CHUNK = 512
/** Share of available RAM a model may take and still 'fit': the OS and other apps need the rest. */
const RAM_FITS = 0.8
/** Share of total RAM beyond which a model would push the machine into swap: 'wont-fit'. */
const RAM_CEILING = 0.9
const GPU_FITS = 0.85
const GPU_CEILING = 0.95

/** MatMulNBits int4 is the fast CPU path; fp16 is native on GPUs. Same order as the engine's. */
const CPU_ORDER: VariantName[] = ['q4', 'q8', 'int8', 'uint8', 'fp32', 'bnb4', 'q4f16', 'fp16']
const GPU_ORDER: VariantName[] = ['fp16', 'q4f16', 'fp32', 'q4', 'q8', 'int8', 'uint8', 'bnb4']

/** fp16-activation exports keep their KV cache in float16, the rest in float32. */
export function kvBytesPerElement(variant: VariantName): number {
  return variant === 'fp16' || variant === 'q4f16' ? 2 : 4
}

export function kvBytes(shape: ModelShape, variant: VariantName, context: number): number {
  return 2 * shape.layers * shape.kvHeads * shape.headDim * context * kvBytesPerElement(variant)
}

export function estimateMemory(
  shape: ModelShape,
  variant: VariantSize,
  context: number,
): Pick<FitEstimate, 'weightsBytes' | 'kvBytes' | 'overheadBytes' | 'totalBytes'> {
  const kv = kvBytes(shape, variant.name, context)
  const logits = Math.min(PREFILL_CHUNK, context) * shape.vocabSize * 4
  const overhead = Math.round(RUNTIME_BASE + ARENA_FRACTION * variant.bytes + kv + logits)
  return { weightsBytes: variant.bytes, kvBytes: kv, overheadBytes: overhead, totalBytes: variant.bytes + kv + overhead }
}

/** Every variant judged at the requested context, best first, and the chosen one. */
export function fitModel(request: FitRequest): FitReport {
  const { shape, budget } = request
  const onGpu = budget.gpuMemory !== null && budget.gpuMemory > 0
  const order = onGpu ? GPU_ORDER : CPU_ORDER
  const estimates = request.variants.map((v) => fitVariant(shape, v, request.context, budget))
  const rankOf = (e: FitEstimate): number => VERDICT_RANK[e.verdict] * 100 + order.indexOf(e.variant)
  estimates.sort((a, b) =>
    a.verdict === 'wont-fit' && b.verdict === 'wont-fit' ? a.totalBytes - b.totalBytes : rankOf(a) - rankOf(b),
  )
  const chosen = request.variant ? estimates.find((e) => e.variant === request.variant) : estimates[0]
  if (!chosen) {
    const have = request.variants.map((v) => v.name).join(', ') || 'none'
    throw new AppError('NOT_FOUND', `This model has no ${request.variant ?? ''} variant to judge (it has: ${have})`)
  }
  return { chosen, variants: estimates }
}

export function fitVariant(
  shape: ModelShape,
  variant: VariantSize,
  context: number,
  budget: MemoryBudget,
): FitEstimate {
  const estimate = estimateMemory(shape, variant, context)
  const { device, fitsLimit, ceiling } = limits(budget)
  const verdict: FitVerdict =
    estimate.totalBytes <= fitsLimit ? 'fits' : estimate.totalBytes <= ceiling ? 'tight' : 'wont-fit'
  return { variant: variant.name, context, verdict, device, ...estimate, maxContext: maxContext(shape, variant, fitsLimit) }
}

/** Largest context that still 'fits': memory is linear in context beyond one prefill chunk. */
export function maxContext(shape: ModelShape, variant: VariantSize, limit: number): number {
  const fixed = estimateMemory(shape, variant, PREFILL_CHUNK).totalBytes - 2 * kvBytes(shape, variant.name, PREFILL_CHUNK)
  const perToken = 2 * kvBytes(shape, variant.name, 1)
  const tokens = Math.floor((limit - fixed) / perToken)
  if (tokens < PREFILL_CHUNK) {
    // Below one chunk the logits buffer shrinks too; search the few small values directly.
    let best = 0
    for (let c = 1; c < PREFILL_CHUNK; c++) if (estimateMemory(shape, variant, c).totalBytes <= limit) best = c
    return Math.min(best, shape.contextLength)
  }
  // Round to 256 tokens: a context setting, not a byte count.
  return Math.min(tokens >= 1024 ? tokens - (tokens % 256) : tokens, shape.contextLength)
}

/** This machine's RAM; GPU memory only when the caller knows it (onnxruntime does not say). */
export function systemMemory(gpuMemory: number | null = null): MemoryBudget {
  return { totalRam: os.totalmem(), availableRam: os.freemem(), gpuMemory }
}

const VERDICT_RANK: Record<FitVerdict, number> = { fits: 0, tight: 1, 'wont-fit': 2 }

function limits(budget: MemoryBudget): { device: 'gpu' | 'ram'; fitsLimit: number; ceiling: number } {
  if (budget.gpuMemory !== null && budget.gpuMemory > 0) {
    return { device: 'gpu', fitsLimit: GPU_FITS * budget.gpuMemory, ceiling: GPU_CEILING * budget.gpuMemory }
  }
  // Closing other apps can free RAM up to the ceiling, so between available and there is 'tight'.
  return {
    device: 'ram',
    fitsLimit: RAM_FITS * budget.availableRam,
    ceiling: Math.max(budget.availableRam, RAM_CEILING * budget.totalRam),
  }
}
