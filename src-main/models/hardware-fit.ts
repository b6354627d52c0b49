// Will a model fit? The shared memory estimate (model-format/memory-estimate.ts) against RAM or
// GPU memory, as a verdict per variant and the largest context that fits. Pure.

import os from 'node:os'
import { AppError } from '../../src-shared/errors.ts'
import type { FitEstimate, FitReport, FitVerdict, MemoryBudget, VariantName } from '../../src-shared/types.ts'
import { DEFAULT_PREFILL_CHUNK, estimateMemory, type MemoryEstimate, type MemoryShape } from '../model-format/memory-estimate.ts'
import { VARIANT_ORDER } from '../model-format/model-folder.ts'

export interface ModelShape extends MemoryShape {
  /** The model's maximum context; maxContext never exceeds it. */
  contextLength: number
}

export interface VariantSize {
  name: VariantName
  bytes: number
  /** Size of the .onnx file alone, when known: loading holds twice it in RAM (memory-estimate.ts). */
  onnxFileBytes?: number | undefined
}

export interface FitRequest {
  shape: ModelShape
  variants: VariantSize[]
  context: number
  budget: MemoryBudget
  /** Judge this variant; without it the best one is chosen. */
  variant?: VariantName | undefined
}

/** Share of available RAM a model may take and still 'fit': the OS and other apps need the rest. */
const RAM_FITS = 0.8
/** Share of total RAM beyond which a model would push the machine into swap: 'wont-fit'. */
const RAM_CEILING = 0.9
const GPU_FITS = 0.85
const GPU_CEILING = 0.95

/** Every variant judged at the requested context, best first, and the chosen one. */
export function fitModel(request: FitRequest): FitReport {
  const { shape, budget } = request
  const onGpu = budget.gpuMemory !== null && budget.gpuMemory > 0
  const order = VARIANT_ORDER[onGpu ? 'gpu' : 'cpu']
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
  const { device, fitsLimit, ceiling } = limits(budget)
  // What loading holds is host RAM, so against GPU memory it does not count.
  const judged = device === 'gpu' ? { ...variant, onnxFileBytes: undefined } : variant
  const { weightsBytes, kvBytes, overheadBytes, totalBytes } = estimateAt(shape, judged, context)
  const verdict: FitVerdict = totalBytes <= fitsLimit ? 'fits' : totalBytes <= ceiling ? 'tight' : 'wont-fit'
  return {
    variant: variant.name,
    context,
    verdict,
    device,
    weightsBytes,
    kvBytes,
    overheadBytes,
    totalBytes,
    maxContext: maxContext(shape, judged, fitsLimit),
  }
}

/** Largest context that still 'fits': memory is linear in context beyond one prefill chunk. */
export function maxContext(shape: ModelShape, variant: VariantSize, limit: number): number {
  const chunk = DEFAULT_PREFILL_CHUNK
  const atChunk = estimateAt(shape, variant, chunk).totalBytes
  const perToken = estimateAt(shape, variant, chunk + 1).totalBytes - atChunk
  const tokens = chunk + Math.floor((limit - atChunk) / perToken)
  if (tokens < chunk) {
    // Below one chunk the logits buffer shrinks too; search the few small values directly.
    let best = 0
    for (let c = 1; c < chunk; c++) if (estimateAt(shape, variant, c).totalBytes <= limit) best = c
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

/** The estimate for a provider that updates the cache in place: every one but WebGPU. */
function estimateAt(shape: ModelShape, variant: VariantSize, context: number): MemoryEstimate {
  return estimateMemory(shape, variant, { context, onnxFileBytes: variant.onnxFileBytes })
}

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
