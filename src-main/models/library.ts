// The model library: the models folder (list, import, remove), Hub downloads, and fit checks.

import { randomUUID } from 'node:crypto'
import { lstat, mkdir, readdir, rename, rm, stat, symlink, unlink } from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../src-shared/errors.ts'
import type {
  CatalogEntry,
  DownloadProgress,
  FitReport,
  HubModel,
  ImportMode,
  KvDtype,
  MemoryBudget,
  ModelSummary,
  ModelVariant,
  PartialDownload,
  ProviderName,
  RemoveResult,
  VariantName,
} from '../../src-shared/types.ts'
import { ESTIMATE_CONTEXT } from '../model-format/memory-estimate.ts'
import { chooseVariant, inspectModelFolder } from '../model-format/model-folder.ts'
import { listPartialDownloads, stagingPath } from './download-job.ts'
import { DownloadQueue } from './download-queue.ts'
import { cachedInspect } from './inspect-cache.ts'
import { nodeIo, type DownloadIo, type FileDownload } from './file-download.ts'
import { fitModel, systemMemory } from './hardware-fit.ts'
import { runConversion, type ConversionSpawner } from './gguf/run-conversion.ts'
import type { WeightPrecision } from './gguf/weight-source.ts'
import { createHubClient, type HubClient } from './hub.ts'
import { describeHubRepo, searchHub } from './hub-search.ts'
import { copyModelFolder, diskUsage, planCopy, variantFiles } from './model-files.ts'
import { listRemoteVariants } from './repo-files.ts'

export interface ModelLibraryOptions {
  modelsDir: string
  /** Hub endpoint for downloads; defaults to HF_ENDPOINT, then https://huggingface.co. */
  endpoint?: string | undefined
  token?: string | undefined
  /** Which provider the default variant is chosen for when a download names none. */
  provider?: ProviderName
  fetch?: typeof fetch
  io?: DownloadIo
  inspect?: (dir: string) => Promise<ModelSummary>
  now?: () => number
  progressIntervalMs?: number
  fileOptions?: Pick<FileDownload, 'retries' | 'retryDelayMs' | 'stallMs'>
  /** How long one Hub API request (commit, file list page) may take; default 30 s. */
  hubTimeoutMs?: number | undefined
  /** How the GGUF converter's process starts (the desktop app's utilityProcess); default: its source, forked. */
  converter?: { entry: string; spawn: ConversionSpawner } | undefined
}

export interface ModelLibraryEvents {
  /** A download job changed state or made progress. */
  download: DownloadProgress
  /** The models folder changed: a download installed, an import, a removal. */
  changed: { modelId: string }
}

export interface DownloadOptions {
  repo: string
  /** Defaults to the provider's preferred variant among those the repository has. */
  variant?: VariantName | undefined
  revision?: string | undefined
}

export interface FitOptions {
  /** Defaults to the model's context, capped at 4096. */
  context?: number | undefined
  variant?: VariantName | undefined
  /** The KV cache's element type; defaults to each variant's own. */
  kvDtype?: KvDtype | undefined
  /** Defaults to this machine's RAM with no GPU. */
  memory?: MemoryBudget | undefined
}

export interface GgufImportOptions {
  /** 'source' (the default): each weight as its GGUF type allows; else all at one precision. */
  precision?: WeightPrecision
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
  /** The model's name where the file's is none (an Ollama blob is named by its hash); default: the file's. It names the source in the model info too. */
  name?: string | undefined
}

export interface ModelLibrary {
  readonly modelsDir: string
  /** Every folder in the models directory: valid models with their facts, invalid ones with the reason. */
  list(): Promise<ModelSummary[]>
  get(id: string): Promise<ModelSummary>
  /** Validates, then copies (the files a model needs) or links the folder in. */
  import(dir: string, mode?: ImportMode): Promise<ModelSummary>
  /**
   * Converts a GGUF file into a model folder (in a process of its own) and adds it; the folder
   * appears only once it is whole and valid.
   */
  importGguf(file: string, options?: GgufImportOptions): Promise<ModelSummary>
  /** Deletes a model, or one variant of it; a linked model only loses its link. */
  remove(id: string, variant?: VariantName): Promise<RemoveResult>
  /** The variants a Hub repository offers, with sizes, before downloading. */
  remoteVariants(repo: string, revision?: string): Promise<ModelVariant[]>
  /** The Hub's text-generation repositories with a runnable ONNX export, matching `query`. */
  searchHub(query: string): Promise<HubModel[]>
  /** One Hub repository as a catalog entry, to size and fit its variants; MODEL_UNSUPPORTED when it cannot run. */
  describeHubRepo(repo: string): Promise<CatalogEntry>
  download(options: DownloadOptions): Promise<DownloadProgress>
  cancelDownload(jobId: string, options?: { keepPartial?: boolean }): Promise<DownloadProgress>
  downloads(): DownloadProgress[]
  dismissDownload(jobId: string): void
  /** Resolves when the job is done, failed or cancelled. */
  waitForDownload(jobId: string): Promise<DownloadProgress>
  partialDownloads(): Promise<PartialDownload[]>
  /** Deletes an interrupted download's files; returns bytes freed. */
  discardPartial(modelId: string, variant: VariantName): Promise<number>
  fit(id: string, options?: FitOptions): Promise<FitReport>
  on<E extends keyof ModelLibraryEvents>(event: E, listener: (payload: ModelLibraryEvents[E]) => void): () => void
}

export function createModelLibrary(options: ModelLibraryOptions): ModelLibrary {
  const modelsDir = path.resolve(options.modelsDir)
  const inspect = cachedInspect(options.inspect ?? inspectModelFolder)
  const io = options.io ?? nodeIo
  const hub: HubClient = createHubClient({
    endpoint: options.endpoint,
    token: options.token,
    fetch: options.fetch,
    timeoutMs: options.hubTimeoutMs,
  })
  const listeners: { [E in keyof ModelLibraryEvents]: Set<(payload: ModelLibraryEvents[E]) => void> } = {
    download: new Set(),
    changed: new Set(),
  }
  const emitChanged = (modelId: string): void => listeners.changed.forEach((l) => l({ modelId }))

  const queue = new DownloadQueue({
    hub,
    io,
    modelsDir,
    inspect,
    now: options.now ?? Date.now,
    progressIntervalMs: options.progressIntervalMs ?? 250,
    fileOptions: options.fileOptions,
    onInstalled: (model) => emitChanged(model.id),
  })
  queue.on((progress) => listeners.download.forEach((l) => l(progress)))

  async function modelDir(id: string): Promise<{ dir: string; linked: boolean }> {
    if (!id || id.startsWith('.') || /[/\\]/.test(id)) throw new AppError('BAD_REQUEST', `"${id}" is not a model id`)
    const dir = path.join(modelsDir, id)
    const info = await lstat(dir).catch(() => null)
    if (!info) throw new AppError('NOT_FOUND', `No model "${id}" in ${modelsDir}`)
    return { dir, linked: info.isSymbolicLink() }
  }

  const library: ModelLibrary = {
    modelsDir,

    async list() {
      const entries = await readdir(modelsDir, { withFileTypes: true }).catch(() => [])
      // Dot folders are not models: downloads stage in one until they are whole [TAG_STAGING].
      const dirs = entries
        .filter((e) => !e.name.startsWith('.') && (e.isDirectory() || e.isSymbolicLink()))
        .map((e) => e.name)
        .sort((a, b) => a.localeCompare(b))
      return Promise.all(dirs.map((name) => inspect(path.join(modelsDir, name))))
    },

    async get(id) {
      const { dir } = await modelDir(id)
      return inspect(dir)
    },

    async import(source, mode = 'copy') {
      const src = path.resolve(source)
      // Links are checked before anything reads through them [TAG_IMPORT_LINKS].
      const isDir = (await stat(src).catch(() => null))?.isDirectory() ?? false
      const copy = mode === 'copy' && isDir ? await planCopy(src) : null
      const summary = await inspect(src)
      if (!summary.valid) throw new AppError('IMPORT_INVALID', `${src} is not a model Hearth can run: ${summary.reason}`)
      if (isInside(src, modelsDir)) throw new AppError('CONFLICT', `${src} is already in the models folder`)
      const id = path.basename(src).replace(/^\.+/, '') || 'model'
      const dest = path.join(modelsDir, id)
      if (await lstat(dest).catch(() => null)) {
        throw new AppError('CONFLICT', `A model named "${id}" is already in the library; remove it or rename the folder`)
      }
      await mkdir(modelsDir, { recursive: true })
      if (mode === 'link') {
        await symlink(src, dest, process.platform === 'win32' ? 'junction' : 'dir')
      } else {
        await copyModelFolder(copy ?? (await planCopy(src)), dest, path.join(modelsDir, '.imports'), io)
      }
      emitChanged(id)
      return inspect(dest)
    },

    async importGguf(file, opts = {}) {
      const src = path.resolve(file)
      const info = await stat(src).catch(() => null)
      if (!info?.isFile()) throw new AppError('IMPORT_INVALID', `${src} is not a file`)
      const id = ggufModelId(opts.name ?? src)
      const dest = path.join(modelsDir, id)
      if (await lstat(dest).catch(() => null)) {
        throw new AppError('CONFLICT', `A model named "${id}" is already in the library; remove it or rename the file`)
      }
      // Written beside the models, in a dot folder that list() skips, and moved in whole [TAG_STAGING].
      const staging = path.join(modelsDir, '.imports', randomUUID())
      try {
        await runConversion(src, staging, { precision: opts.precision, onProgress: opts.onProgress, signal: opts.signal, sourceName: opts.name, ...options.converter })
        const summary = await inspect(staging)
        if (!summary.valid) throw new AppError('IMPORT_INVALID', `${path.basename(src)} converted into a folder Hearth cannot run: ${summary.reason}`)
        await rename(staging, dest)
      } finally {
        await rm(staging, { recursive: true, force: true })
      }
      emitChanged(id)
      return inspect(dest)
    },

    async remove(id, variant) {
      const { dir, linked } = await modelDir(id)
      if (linked) {
        if (variant) {
          throw new AppError('CONFLICT', `"${id}" is linked from elsewhere; Hearth does not delete files outside its models folder`)
        }
        await unlink(dir)
        emitChanged(id)
        return { bytesFreed: 0, removedModel: true }
      }
      if (variant) {
        const summary = await inspect(dir)
        if (!summary.valid) {
          throw new AppError('BAD_REQUEST', `"${id}" is not a valid model (${summary.reason}); remove the whole model instead`)
        }
        const found = summary.variants.find((v) => v.name === variant)
        if (!found) {
          throw new AppError('NOT_FOUND', `"${id}" has no ${variant} variant (it has: ${summary.variants.map((v) => v.name).join(', ')})`)
        }
        if (summary.variants.length > 1) {
          let bytesFreed = 0
          for (const file of await variantFiles(dir, found.file)) {
            bytesFreed += (await stat(file)).size
            await rm(file)
          }
          emitChanged(id)
          return { bytesFreed, removedModel: false }
        }
      }
      const bytesFreed = await diskUsage(dir)
      await rm(dir, { recursive: true, force: true })
      emitChanged(id)
      return { bytesFreed, removedModel: true }
    },

    searchHub: (query) => searchHub(hub, query),
    describeHubRepo: (repo) => describeHubRepo(hub, repo),

    async remoteVariants(repo, revision = 'main') {
      const commit = await hub.resolveCommit(repo, revision)
      return listRemoteVariants(await hub.listFiles(repo, commit)).map(({ name, file, bytes }) => ({ name, file, bytes }))
    },

    async download({ repo, variant, revision }) {
      const chosen = variant ?? chooseVariant(await library.remoteVariants(repo, revision), options.provider ?? 'cpu').name
      return queue.enqueue({ repo, variant: chosen, revision })
    },

    cancelDownload: (jobId, cancelOptions) => queue.cancel(jobId, cancelOptions),
    downloads: () => queue.list(),
    dismissDownload: (jobId) => queue.dismiss(jobId),
    waitForDownload: (jobId) => queue.settled(jobId),
    partialDownloads: () => listPartialDownloads(modelsDir),

    async discardPartial(modelId, variant) {
      const active = queue.list().find((p) => p.modelId === modelId && p.variant === variant)
      if (active && (active.state === 'downloading' || active.state === 'verifying')) {
        throw new AppError('CONFLICT', `${modelId} (${variant}) is downloading; cancel it instead`)
      }
      const dir = stagingPath(modelsDir, modelId, variant)
      const bytes = await diskUsage(dir).catch(() => 0)
      await rm(dir, { recursive: true, force: true })
      return bytes
    },

    async fit(id, fitOptions = {}) {
      const summary = await library.get(id)
      if (!summary.valid) throw new AppError('MODEL_INVALID', `"${id}" cannot be run: ${summary.reason}`)
      // The .onnx file's own size says how much loading holds, as the engine counts it.
      const variants = await Promise.all(
        summary.variants.map(async (v) => ({ ...v, onnxFileBytes: await fileSize(path.join(summary.dir, v.file)) })),
      )
      return fitModel({
        shape: fitOptions.kvDtype ? { ...summary, declaredKvDtype: fitOptions.kvDtype } : summary,
        variants,
        context: fitOptions.context ?? Math.min(summary.contextLength, ESTIMATE_CONTEXT),
        budget: fitOptions.memory ?? systemMemory(),
        variant: fitOptions.variant,
      })
    },

    on(event, listener) {
      listeners[event].add(listener)
      return () => listeners[event].delete(listener)
    },
  }
  return library
}

/** A file's size; undefined once it is gone (removed since the folder was read), as if not known. */
async function fileSize(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** A GGUF file's model id: its name (the last part of a path) without the extension, safe as a folder name. */
export function ggufModelId(file: string): string {
  const stem = path.basename(file).replace(/\.gguf$/i, '')
  return stem.replace(/[^\w.+-]+/g, '-').replace(/^[.-]+/, '') || 'model'
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child)
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))
}
