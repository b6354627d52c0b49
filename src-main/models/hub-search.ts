// Discover: the Hub's model search narrowed to repositories Hearth can run (an ONNX export with
// its config and tokenizer), and one repository read closely enough to size and fit each variant
// before anything is downloaded.

import { z } from 'zod'
import { AppError } from '../../src-shared/errors.ts'
import type { CatalogEntry, HubModel, VariantName } from '../../src-shared/types.ts'
import { estimateParameters, parseModelConfig, type Json } from '../model-format/model-config.ts'
import type { HubClient } from './hub.ts'
import { listRemoteVariants, REQUIRED_METADATA, variantOfPath } from './repo-files.ts'

/** How many repositories one search asks the Hub for; those that cannot run are then left out. */
const SEARCH_LIMIT = 50
/** config.json is small; a hub that sends more is not sending a config. */
const MAX_CONFIG_BYTES = 1024 * 1024

const searchSchema = z.array(
  z.looseObject({
    id: z.string().regex(/^[\w.-]+\/[\w.-]+$/),
    downloads: z.number().nullish(),
    likes: z.number().nullish(),
    lastModified: z.string().nullish(),
    gated: z.union([z.boolean(), z.string()]).nullish(),
    siblings: z.array(z.looseObject({ rfilename: z.string() })).nullish(),
  }),
)

/**
 * Text-generation repositories with ONNX weights whose name matches `query`, most downloaded
 * first; only those whose file list has a runnable export (onnx/model*.onnx, config.json,
 * tokenizer.json, tokenizer_config.json), each with the variants it offers.
 */
export async function searchHub(hub: HubClient, query: string, signal?: AbortSignal): Promise<HubModel[]> {
  const url = new URL(`${hub.endpoint}/api/models`)
  url.searchParams.set('search', query.trim())
  url.searchParams.set('filter', 'onnx')
  url.searchParams.set('pipeline_tag', 'text-generation')
  url.searchParams.set('sort', 'downloads')
  url.searchParams.set('direction', '-1')
  url.searchParams.set('limit', String(SEARCH_LIMIT))
  url.searchParams.set('full', 'true')
  const res = await hub.request(url.href, { headers: { accept: 'application/json' }, signal })
  if (!res.ok) throw new AppError('HUB_UNREACHABLE', `The model hub at ${hub.endpoint} answered the search with HTTP ${res.status}.`)
  const parsed = searchSchema.safeParse(await res.json().catch(() => undefined))
  if (!parsed.success) throw new AppError('HUB_UNREACHABLE', `The model hub at ${hub.endpoint} answered the search with something that is not a model list.`)
  return parsed.data.flatMap((repo) => {
    const names = new Set((repo.siblings ?? []).map((s) => s.rfilename))
    if (!REQUIRED_METADATA.every((file) => names.has(file))) return []
    const variants = [...new Set([...names].flatMap((file) => variantOfPath(file) ?? []))].sort(byVariant)
    if (variants.length === 0) return []
    return [
      {
        repo: repo.id,
        downloads: repo.downloads ?? 0,
        likes: repo.likes ?? 0,
        lastModified: repo.lastModified ?? null,
        gated: repo.gated !== undefined && repo.gated !== null && repo.gated !== false,
        variants,
      },
    ]
  })
}

/** One repository as a catalog entry: every variant with its files and bytes, the shapes its config states. */
export async function describeHubRepo(hub: HubClient, repo: string, signal?: AbortSignal): Promise<CatalogEntry> {
  const commit = await hub.resolveCommit(repo, 'main', signal)
  const files = await hub.listFiles(repo, commit, signal)
  const paths = new Set(files.map((f) => f.path))
  const missing = REQUIRED_METADATA.filter((file) => !paths.has(file))
  const variants = listRemoteVariants(files)
  if (variants.length === 0) throw new AppError('MODEL_UNSUPPORTED', `${repo} has no ONNX export (no onnx/model*.onnx), so Hearth cannot run it.`)
  if (missing.length > 0) throw new AppError('MODEL_UNSUPPORTED', `${repo} lacks ${missing.join(', ')}, so Hearth cannot run it.`)
  const config = parseModelConfig(await fetchJson(hub, repo, commit, 'config.json', signal), null)
  const fp32 = variants.find((v) => v.name === 'fp32')
  return {
    repo,
    name: repo.slice(repo.indexOf('/') + 1),
    architecture: config.architecture,
    // From the shapes; else from the fp32 weights' size, four bytes a parameter.
    parameters: estimateParameters(config) ?? (fp32 ? Math.round(fp32.bytes / 4) : 0),
    contextLength: config.contextLength,
    layers: config.layers,
    kvHeads: config.kvHeads,
    headDim: config.headDim,
    vocabSize: config.vocabSize,
    license: '',
    variants: variants.map((v) => ({ name: v.name, files: v.files.map((f) => f.path), bytes: v.bytes })),
    verified: true,
  }
}

async function fetchJson(hub: HubClient, repo: string, commit: string, file: string, signal?: AbortSignal): Promise<Json> {
  const res = await hub.request(hub.fileUrl(repo, commit, file), { signal })
  if (!res.ok) throw new AppError('HUB_UNREACHABLE', `${repo}'s ${file} could not be read from the model hub (HTTP ${res.status}).`)
  const text = await res.text()
  if (text.length > MAX_CONFIG_BYTES) throw new AppError('MODEL_UNSUPPORTED', `${repo}'s ${file} is too large to be a model config.`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new AppError('MODEL_UNSUPPORTED', `${repo}'s ${file} is not valid JSON.`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AppError('MODEL_UNSUPPORTED', `${repo}'s ${file} is not a JSON object.`)
  return value as Json
}

const ORDER: VariantName[] = ['q4', 'q4f16', 'bnb4', 'q8', 'int8', 'uint8', 'fp16', 'fp32']
function byVariant(a: VariantName, b: VariantName): number {
  return ORDER.indexOf(a) - ORDER.indexOf(b)
}
