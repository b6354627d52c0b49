// Which files of a Hub repository one ONNX variant needs, read from the repository's file list.

import path from 'node:path'
import { AppError } from '../../src-shared/errors.ts'
import type { ModelVariant, VariantName } from '../../src-shared/types.ts'
import { onnxVariant } from '../model-format/model-folder.ts'
import type { HubFile } from './hub.ts'

/** A weight file at the top or under onnx/, named as model-folder.ts reads it. */
export function variantOfPath(filePath: string): VariantName | null {
  const dir = path.posix.dirname(filePath)
  return dir === '.' || dir === 'onnx' ? onnxVariant(path.posix.basename(filePath)) : null
}

/** Needed by every variant; special_tokens_map.json only when the repository has one. */
export const REQUIRED_METADATA = ['config.json', 'tokenizer.json', 'tokenizer_config.json']
const OPTIONAL_METADATA = ['generation_config.json', 'special_tokens_map.json', 'chat_template.jinja']

export interface RemoteVariant extends ModelVariant {
  /** The .onnx file, then its external data chunks in order. */
  files: HubFile[]
}

/** Every variant the listing has, `model*` preferred over `decoder_model_merged*` per name. */
export function listRemoteVariants(files: HubFile[]): RemoteVariant[] {
  const byPath = new Map(files.map((f) => [f.path, f]))
  const found = new Map<VariantName, RemoteVariant>()
  const candidates = files
    .filter((f) => variantOfPath(f.path) !== null)
    .sort((a, b) => rank(a.path) - rank(b.path) || a.path.localeCompare(b.path))
  for (const onnx of candidates) {
    const variant = variantOfPath(onnx.path)
    if (!variant || found.has(variant)) continue
    const chunks = dataChunks(onnx.path, byPath)
    const variantFiles = [onnx, ...chunks]
    found.set(variant, {
      name: variant,
      file: onnx.path,
      bytes: variantFiles.reduce((sum, f) => sum + f.size, 0),
      files: variantFiles,
    })
  }
  return [...found.values()]
}

/** The metadata files plus the variant's files; throws naming what the repository lacks. */
export function filesForVariant(repo: string, files: HubFile[], variant: VariantName): HubFile[] {
  const byPath = new Map(files.map((f) => [f.path, f]))
  const variants = listRemoteVariants(files)
  const chosen = variants.find((v) => v.name === variant)
  if (!chosen) {
    const have = variants.map((v) => v.name).join(', ')
    throw new AppError(
      'NOT_FOUND',
      variants.length === 0
        ? `${repo} has no ONNX export (no onnx/model*.onnx); Hearth runs Hugging Face ONNX repositories`
        : `${repo} has no ${variant} variant (it has: ${have})`,
    )
  }
  const missing = REQUIRED_METADATA.filter((name) => !byPath.has(name))
  if (missing.length > 0) {
    throw new AppError('MODEL_INVALID', `${repo} lacks ${missing.join(', ')}, so it cannot be run`)
  }
  const metadata = [...REQUIRED_METADATA, ...OPTIONAL_METADATA].flatMap((name) => byPath.get(name) ?? [])
  return [...metadata, ...chosen.files]
}

/** `<file>_data`, `<file>_data_1`, … as transformers.js writes them, or Optimum's `<file>.data`. */
function dataChunks(onnxPath: string, byPath: Map<string, HubFile>): HubFile[] {
  const single = byPath.get(`${onnxPath}.data`)
  if (single) return [single]
  const chunks: HubFile[] = []
  for (let i = 0; ; i++) {
    const chunk = byPath.get(i === 0 ? `${onnxPath}_data` : `${onnxPath}_data_${i}`)
    if (!chunk) return chunks
    chunks.push(chunk)
  }
}

function rank(file: string): number {
  return path.posix.basename(file).startsWith('decoder_model_merged') ? 1 : 0
}
