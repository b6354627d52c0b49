// Inspects a Hugging Face ONNX model folder (transformers.js / Optimum layout) and picks a variant.

import { open, readFile, readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../src-shared/errors.ts'
import type { ConversionInfo, ModelSummary, ModelVariant, ProviderName, VariantName } from '../../src-shared/types.ts'
import { estimateParameters, readModelConfig } from './model-config.ts'

const SUFFIX_TO_VARIANT: Record<string, VariantName> = {
  '': 'fp32',
  _fp16: 'fp16',
  _quantized: 'q8',
  _int8: 'int8',
  _uint8: 'uint8',
  _q4: 'q4',
  _q4f16: 'q4f16',
  _bnb4: 'bnb4',
}
const ONNX_FILE = /^(model|decoder_model_merged)(_fp16|_quantized|_int8|_uint8|_q4|_q4f16|_bnb4)?\.onnx$/

/** The variant an ONNX weight file's name stands for ('model_q4.onnx' → 'q4'); null if none. */
export function onnxVariant(fileName: string): VariantName | null {
  const match = ONNX_FILE.exec(fileName)
  return match ? (SUFFIX_TO_VARIANT[match[2] ?? ''] ?? null) : null
}

/**
 * Variants best first on each device: chooseVariant picks by it and the library's fit ranks by it.
 * MatMulNBits int4 is the fastest CPU path; GPUs run fp16 natively.
 */
export const VARIANT_ORDER: Readonly<Record<'cpu' | 'gpu', readonly VariantName[]>> = {
  cpu: ['q4', 'q8', 'int8', 'uint8', 'fp32', 'bnb4', 'q4f16', 'fp16'],
  gpu: ['fp16', 'q4f16', 'fp32', 'q4', 'q8', 'int8', 'uint8', 'bnb4'],
}

/** What the GGUF importer wrote beside the model (models/gguf/convert.ts). */
export const CONVERSION_FILE = 'hearth-conversion.json'

/** The folder's conversion record; null when it has none or it cannot be read. */
async function readConversion(dir: string): Promise<ConversionInfo | null> {
  try {
    const value: unknown = JSON.parse(await readFile(path.join(dir, CONVERSION_FILE), 'utf8'))
    const info = value as ConversionInfo
    return typeof value === 'object' && value !== null && typeof info.source === 'string' && Array.isArray(info.notes) ? info : null
  } catch {
    return null
  }
}

/** Everything about a folder, or the first reason it cannot be run. Never throws. */
export async function inspectModelFolder(dir: string): Promise<ModelSummary> {
  const abs = path.resolve(dir)
  const base = { id: path.basename(abs), name: path.basename(abs), dir: abs }
  try {
    const info = await stat(abs).catch(() => null)
    if (!info?.isDirectory()) throw new AppError('MODEL_INVALID', `${abs} is not a folder`)
    const config = await readModelConfig(abs)
    await checkTokenizer(abs)
    const variants = await listVariants(abs, config.externalDataChunks)
    return {
      valid: true,
      ...base,
      architecture: config.architecture,
      parameters: estimateParameters(config),
      contextLength: config.contextLength,
      layers: config.layers,
      kvHeads: config.kvHeads,
      headDim: config.headDim,
      hiddenSize: config.hiddenSize,
      vocabSize: config.vocabSize,
      declaredKvDtype: config.declaredKvDtype,
      generationDefaults: config.generationDefaults,
      variants,
      conversion: await readConversion(abs),
    }
  } catch (err) {
    return { valid: false, ...base, reason: AppError.toData(err).message }
  }
}

/** The override when the folder has it, else the first variant in the provider's preference order. */
export function chooseVariant(
  variants: ModelVariant[],
  provider: ProviderName,
  override?: VariantName,
): ModelVariant {
  const have = variants.map((v) => v.name).join(', ') || 'none'
  if (override) {
    const found = variants.find((v) => v.name === override)
    if (!found) throw new AppError('NOT_FOUND', `This model has no ${override} variant (it has: ${have})`)
    return found
  }
  for (const name of VARIANT_ORDER[provider === 'cpu' ? 'cpu' : 'gpu']) {
    const found = variants.find((v) => v.name === name)
    if (found) return found
  }
  throw new AppError('MODEL_INVALID', 'This model folder has no ONNX variant')
}

async function checkTokenizer(dir: string): Promise<void> {
  const tokenizer = await readJson(dir, 'tokenizer.json')
  if (typeof tokenizer.model !== 'object' || tokenizer.model === null) {
    throw new AppError('MODEL_INVALID', 'tokenizer.json has no "model" section')
  }
  const tokenizerConfig = await readJson(dir, 'tokenizer_config.json')
  const template = tokenizerConfig.chat_template
  const hasTemplate =
    (typeof template === 'string' && template.length > 0) ||
    (Array.isArray(template) && template.length > 0) ||
    (await stat(path.join(dir, 'chat_template.jinja')).then((s) => s.size > 0, () => false)) ||
    (await stat(path.join(dir, 'chat_template.json')).then((s) => s.size > 0, () => false))
  if (!hasTemplate) throw new AppError('MODEL_INVALID', 'tokenizer_config.json has no chat_template')
}

async function readJson(dir: string, name: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path.join(dir, name), 'utf8')
  } catch {
    throw new AppError('MODEL_INVALID', `${name} is missing or unreadable`)
  }
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>
    }
  } catch (err) {
    throw new AppError('MODEL_INVALID', `${name} is not valid JSON (${(err as Error).message})`)
  }
  throw new AppError('MODEL_INVALID', `${name} is not a JSON object`)
}

/**
 * Every runnable variant, `model*` preferred over `decoder_model_merged*` for the same name.
 * Broken files are skipped; with no runnable variant left the folder is invalid with their reasons.
 */
async function listVariants(
  dir: string,
  declaredChunks: Record<string, number>,
): Promise<ModelVariant[]> {
  const found = new Map<VariantName, ModelVariant>()
  const problems: string[] = []
  for (const sub of ['onnx', '.']) {
    const names = await readdir(path.join(dir, sub)).catch(() => [] as string[])
    // model* sorts before decoder_model_merged* after this, so it wins a shared variant name.
    const candidates = names.filter((n) => onnxVariant(n) !== null).sort((a, b) => rank(a) - rank(b))
    for (const name of candidates) {
      const variant = onnxVariant(name)
      if (!variant || found.has(variant)) continue
      const file = path.posix.join(sub === '.' ? '' : sub, name)
      const declared = declaredChunks[name] ?? declaredChunks['*']
      const result = await measureVariant(dir, file, names, declared)
      if (typeof result === 'string') problems.push(result)
      else found.set(variant, { name: variant, file, bytes: result })
    }
  }
  if (found.size === 0) {
    throw new AppError(
      'MODEL_INVALID',
      problems.length > 0 ? problems.join('; ') : 'no ONNX model file (onnx/model*.onnx)',
    )
  }
  return [...found.values()]
}

function rank(name: string): number {
  return name.startsWith('decoder_model_merged') ? 1 : 0
}

/** Total bytes of the .onnx file and its external data chunks, or why the variant is unusable. */
async function measureVariant(
  dir: string,
  file: string,
  siblings: string[],
  declaredChunks: number | undefined,
): Promise<number | string> {
  const abs = path.join(dir, file)
  const head = Buffer.alloc(1)
  const handle = await open(abs, 'r')
  let size: number
  try {
    size = (await handle.stat()).size
    await handle.read(head, 0, 1, 0)
  } finally {
    await handle.close()
  }
  // An ONNX ModelProto begins with field 1 (ir_version, varint): tag byte 0x08.
  if (size === 0 || head[0] !== 0x08) return `${file} is not an ONNX model (corrupt or truncated)`

  const base = path.basename(file)
  let bytes = size
  let chunks = 0
  for (;;) {
    const chunk = chunks === 0 ? `${base}_data` : `${base}_data_${chunks}`
    if (!siblings.includes(chunk)) break
    bytes += (await stat(path.join(path.dirname(abs), chunk))).size
    chunks++
  }
  if (declaredChunks !== undefined && chunks < declaredChunks) {
    const missing = chunks === 0 ? `${base}_data` : `${base}_data_${chunks}`
    return `${file} needs external data ${path.posix.join(path.dirname(file), missing)}, which is missing`
  }
  return bytes
}
