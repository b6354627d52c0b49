// Finds the GGUF files other local-LLM apps keep in their usual folders (LM Studio, Jan, Ollama's
// store), so the user can import a model they already have instead of downloading it again.

import type { Dirent } from 'node:fs'
import { open, readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import type { GgufCandidate } from '../../../src-shared/types.ts'
import { ggufModelId } from '../library.ts'

export interface DiscoverOptions {
  /** The user's home folder, where every app's default folder lies; tests pass a fake one. */
  home: string
  /** Ollama's store where OLLAMA_MODELS moves it; default <home>/.ollama/models. */
  ollamaModels?: string | undefined
}

/** The layer of an Ollama manifest that holds the weights, as a GGUF blob. */
const OLLAMA_MODEL_LAYER = 'application/vnd.ollama.image.model'
/** Publisher/repo/file in LM Studio, a few more levels in Jan's cortex layout; deeper is not a model store. */
const MAX_DEPTH = 6

/** Every GGUF found, by app and then name; a folder that does not exist just adds none. */
export async function findGgufModels(opts: DiscoverOptions): Promise<GgufCandidate[]> {
  const home = opts.home
  const found = await Promise.all([
    walkAll(lmStudioRoots(home), 'LM Studio'),
    janRoots(home).then((roots) => walkAll(roots, 'Jan')),
    findOllamaModels(opts.ollamaModels ?? path.join(home, '.ollama', 'models')),
  ])
  // Each file once: Ollama tags share blobs, and a root can sit inside another (a Jan data folder
  // moved under ~/jan). The first name wins.
  const byPath = new Map<string, GgufCandidate>()
  for (const c of found.flat()) if (!byPath.has(c.path)) byPath.set(c.path, c)
  return [...byPath.values()]
}

/** Whether the file starts with GGUF's magic: a GGUF is known by its content, not its name. */
export async function isGgufFile(file: string): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => null)
  if (handle === null) return false
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(4), 0, 4, 0)
    return bytesRead === 4 && buffer.toString('latin1') === 'GGUF'
  } finally {
    await handle.close()
  }
}

/** ~/.lmstudio/models since LM Studio 0.3, ~/.cache/lm-studio/models before; publisher/repo/file.gguf in both. */
function lmStudioRoots(home: string): string[] {
  return [path.join(home, '.lmstudio', 'models'), path.join(home, '.cache', 'lm-studio', 'models')]
}

/**
 * Jan up to 0.4 kept ~/jan/models/<id>/*.gguf; later versions keep a data folder in the platform's
 * app-data folder (or where settings.json's data_folder moves it), with models/ (0.5, cortex) or
 * llamacpp/models/<id>/model.gguf (0.6 on).
 */
async function janRoots(home: string): Promise<string[]> {
  const appDirs = [
    path.join(home, '.local', 'share', 'Jan'),
    path.join(home, '.config', 'Jan'),
    path.join(home, 'Library', 'Application Support', 'Jan'),
    path.join(home, 'AppData', 'Roaming', 'Jan'),
  ]
  const dataDirs = await Promise.all(appDirs.map(async (dir) => [path.join(dir, 'data'), ...(await janDataFolder(dir))]))
  const roots = [path.join(home, 'jan', 'models')]
  for (const data of new Set(dataDirs.flat())) roots.push(path.join(data, 'models'), path.join(data, 'llamacpp', 'models'))
  return roots
}

async function janDataFolder(appDir: string): Promise<string[]> {
  const text = await readFile(path.join(appDir, 'settings.json'), 'utf8').catch(() => null)
  if (text === null) return []
  const folder = parseJson(text)?.['data_folder']
  return typeof folder === 'string' && path.isAbsolute(folder) ? [folder] : []
}

async function walkAll(roots: string[], app: GgufCandidate['app']): Promise<GgufCandidate[]> {
  const found = await Promise.all(roots.map((root) => walk(root, app, 0)))
  return found.flat().sort((a, b) => a.name.localeCompare(b.name))
}

async function walk(dir: string, app: GgufCandidate['app'], depth: number): Promise<GgufCandidate[]> {
  // A folder that is not there, or not readable, holds nothing to offer.
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true }).catch(() => [])
  const found: GgufCandidate[] = []
  for (const entry of entries) {
    const full = path.join(dir, entry.name)
    // Linked folders are not followed: a link back up would loop.
    if (entry.isDirectory() && depth < MAX_DEPTH) found.push(...(await walk(full, app, depth + 1)))
    else if ((entry.isFile() || entry.isSymbolicLink()) && isModelFileName(entry.name)) {
      const info = await stat(full).catch(() => null)
      if (info?.isFile()) found.push(candidate(full, ggufName(full), app, info.size))
    }
  }
  return found
}

/** *.gguf, but not a vision projector (mmproj-*.gguf): that is an image encoder beside a model, not one. */
function isModelFileName(name: string): boolean {
  return /\.gguf$/i.test(name) && !/^mmproj/i.test(name)
}

/** The file's name; Jan 0.6 names every file model.gguf, so there its folder names the model. */
function ggufName(file: string): string {
  const stem = path.basename(file).replace(/\.gguf$/i, '')
  return stem.toLowerCase() === 'model' ? path.basename(path.dirname(file)) : stem
}

/**
 * Ollama's store: manifests/<registry>/<namespace>/<model>/<tag> are JSON listing layers, and the
 * model layer's digest sha256:<hex> names the GGUF at blobs/sha256-<hex>.
 */
async function findOllamaModels(store: string): Promise<GgufCandidate[]> {
  const found: GgufCandidate[] = []
  for (const manifest of await manifestFiles(path.join(store, 'manifests'))) {
    const digest = modelLayerDigest(await readFile(manifest.file, 'utf8').catch(() => ''))
    if (digest === null) continue
    const blob = path.join(store, 'blobs', `sha256-${digest}`)
    const info = await stat(blob).catch(() => null)
    if (info?.isFile()) found.push(candidate(blob, manifest.name, 'Ollama', info.size))
  }
  return found.sort((a, b) => a.name.localeCompare(b.name))
}

/** Every <registry>/<namespace>/<model>/<tag> file, named as `ollama list` shows it. */
async function manifestFiles(root: string): Promise<{ file: string; name: string }[]> {
  const files: { file: string; name: string }[] = []
  const list = async (dir: string): Promise<Dirent[]> => readdir(dir, { withFileTypes: true }).catch(() => [])
  for (const registry of await list(root)) {
    if (!registry.isDirectory()) continue
    for (const namespace of await list(path.join(root, registry.name))) {
      if (!namespace.isDirectory()) continue
      for (const model of await list(path.join(root, registry.name, namespace.name))) {
        if (!model.isDirectory()) continue
        const modelDir = path.join(root, registry.name, namespace.name, model.name)
        for (const tag of await list(modelDir)) {
          if (!tag.isFile()) continue
          files.push({ file: path.join(modelDir, tag.name), name: ollamaName(registry.name, namespace.name, model.name, tag.name) })
        }
      }
    }
  }
  return files
}

/** `llama3.2:1b` for the official library, `user/model:tag` for others there, the registry too elsewhere (hf.co/…). */
function ollamaName(registry: string, namespace: string, model: string, tag: string): string {
  if (registry !== 'registry.ollama.ai') return `${registry}/${namespace}/${model}:${tag}`
  return namespace === 'library' ? `${model}:${tag}` : `${namespace}/${model}:${tag}`
}

/** The hex digest of the manifest's model layer; null when the text is no manifest or names none. */
export function modelLayerDigest(text: string): string | null {
  const layers = parseJson(text)?.['layers']
  if (!Array.isArray(layers)) return null
  for (const layer of layers as unknown[]) {
    if (typeof layer !== 'object' || layer === null) continue
    const { mediaType, digest } = layer as Record<string, unknown>
    if (mediaType !== OLLAMA_MODEL_LAYER || typeof digest !== 'string') continue
    // Only a well-formed digest becomes part of a path.
    const hex = /^sha256:([0-9a-f]{64})$/.exec(digest)?.[1]
    if (hex !== undefined) return hex
  }
  return null
}

function candidate(file: string, name: string, app: GgufCandidate['app'], bytes: number): GgufCandidate {
  return { path: file, name, app, bytes, modelId: ggufModelId(name) }
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null
  } catch {
    // Half-written or hand-edited files of another app: nothing to read from them.
    return null
  }
}
