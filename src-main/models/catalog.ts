// The curated download catalog (resources/catalog.json), validated, with a fit verdict per entry.

import { z } from 'zod'
import { AppError } from '../../src-shared/errors.ts'
import type { CatalogEntry, FitReport, MemoryBudget } from '../../src-shared/types.ts'
import catalogJson from '../../resources/catalog.json' with { type: 'json' }
import { fitModel } from './hardware-fit.ts'

const variantName = z.enum(['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'])
const positiveInt = z.number().int().positive()

const catalogSchema = z.object({
  version: z.literal(1),
  models: z.array(
    z.object({
      repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/),
      name: z.string().min(1),
      architecture: z.string().min(1),
      parameters: positiveInt,
      contextLength: positiveInt,
      layers: positiveInt,
      kvHeads: positiveInt,
      headDim: positiveInt,
      vocabSize: positiveInt,
      license: z.string().min(1),
      variants: z
        .array(
          z.object({
            name: variantName,
            // The .onnx first, then its external data chunks.
            files: z.array(z.string().regex(/^onnx\/[\w.-]+$/)).min(1),
            bytes: positiveInt,
          }),
        )
        .min(1),
      verified: z.boolean(),
    }),
  ),
})

/** Parses catalog JSON; throws INTERNAL naming the first problem (the file ships with the app). */
export function parseCatalog(value: unknown): CatalogEntry[] {
  const result = catalogSchema.safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new AppError('INTERNAL', `The model catalog is malformed at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? ''}`)
  }
  return result.data.models
}

/** The catalog that ships with Hearth. */
export function loadCatalog(): CatalogEntry[] {
  return parseCatalog(catalogJson)
}

/** How each variant of a catalog model would fit, before downloading it. */
export function fitCatalogEntry(entry: CatalogEntry, context: number, budget: MemoryBudget): FitReport {
  // Loading holds twice the .onnx: the weights when it is the only file, the graph (taken as
  // nothing) beside data chunks.
  const variants = entry.variants.map((v) => ({ ...v, onnxFileBytes: v.files.length === 1 ? v.bytes : undefined }))
  return fitModel({ shape: entry, variants, context, budget })
}
