// The model library and the engine's model: what the picker, settings and empty state show.

import type { CatalogItem, DownloadProgress, ModelStatus, ModelSummary, PartialDownload, RemoveResult, VariantName } from '../../src-shared/types.ts'
import { api } from './api.ts'

export type ValidModel = Extract<ModelSummary, { valid: true }>

class ModelsState {
  list = $state<ModelSummary[]>([])
  status = $state<ModelStatus>({ state: 'unloaded', modelId: null, info: null, error: null })
  catalog = $state<CatalogItem[]>([])
  downloads = $state<DownloadProgress[]>([])
  /** Downloads stopped before they finished (paused, failed, cut by a quit): each can resume. */
  partials = $state<PartialDownload[]>([])
  /** false until the first listing arrives, so the empty state does not flash. */
  loaded = $state(false)
  /** Per model id, the installed models that can draft for it (main's draftCandidates), smallest first. */
  drafts = $state<Record<string, ValidModel[]>>({})

  get valid(): ValidModel[] {
    return this.list.filter((m): m is ValidModel => m.valid)
  }

  get invalid(): Extract<ModelSummary, { valid: false }>[] {
    return this.list.filter((m): m is Extract<ModelSummary, { valid: false }> => !m.valid)
  }

  /** Downloads waiting, running or being checked: the model manager's badge counts them. */
  get activeDownloads(): DownloadProgress[] {
    return this.downloads.filter((d) => d.state === 'queued' || d.state === 'downloading' || d.state === 'verifying')
  }

  byId(id: string | null): ValidModel | undefined {
    return this.valid.find((m) => m.id === id)
  }

  /** True while the engine runs on the CPU although other providers were tried. */
  get cpuFallback(): boolean {
    const info = this.status.info
    return info !== null && info.provider === 'cpu' && info.providerAttempts.some((a) => !a.ok)
  }

  constructor() {
    api.on('modelStatus', (status) => (this.status = status))
    api.on('modelsChanged', () => void this.refresh())
    api.on('downloadProgress', (progress) => {
      const i = this.downloads.findIndex((d) => d.jobId === progress.jobId)
      if (i === -1) this.downloads = [...this.downloads, progress]
      else this.downloads[i] = progress
      // A job that starts takes its partial's place; one that stops may leave one.
      if (i === -1 || progress.state === 'failed' || progress.state === 'cancelled') void this.refreshPartials()
    })
  }

  async refresh(): Promise<void> {
    const [list, status] = await Promise.all([api.listModels(), api.modelStatus()])
    this.list = list
    this.status = status
    this.loaded = true
    void this.refreshDrafts()
  }

  /** Not awaited by refresh: the list shows at once, the draft choices when main has read the tokenizers. */
  async refreshDrafts(): Promise<void> {
    const pairs = await Promise.all(this.valid.map(async (m) => [m.id, await api.draftCandidates(m.id).catch(() => [])] as const))
    this.drafts = Object.fromEntries(pairs)
  }

  /** The catalog needs the Hub's listing only for downloads; a failure leaves it empty. */
  async refreshCatalog(): Promise<void> {
    const [catalog, downloads] = await Promise.all([api.catalog(), api.listDownloads()])
    this.catalog = catalog
    this.downloads = downloads
  }

  async refreshPartials(): Promise<void> {
    this.partials = await api.listPartialDownloads()
  }

  /** Stops a download keeping its files: it is listed as a partial, to resume. */
  async pause(jobId: string): Promise<void> {
    await api.pauseDownload(jobId)
    this.downloads = this.downloads.filter((d) => d.jobId !== jobId)
    await this.refreshPartials()
  }

  async resume(partial: PartialDownload): Promise<void> {
    this.partials = this.partials.filter((p) => p !== partial)
    await api.startDownload(partial.repo, partial.variant)
  }

  async discard(partial: PartialDownload): Promise<void> {
    await api.discardPartialDownload(partial.modelId, partial.variant)
    await this.refreshPartials()
  }

  async load(modelId: string, variant?: VariantName): Promise<void> {
    this.status = { state: 'loading', modelId, info: null, error: null }
    try {
      await (variant ? api.loadModel(modelId, variant) : api.loadModel(modelId))
    } finally {
      this.status = await api.modelStatus()
    }
  }

  /** Deletes a model's files (a linked one only loses its link), unloading it first when it runs. */
  async remove(modelId: string): Promise<RemoveResult> {
    const result = await api.removeModel(modelId)
    await this.refresh()
    return result
  }

  async unload(): Promise<void> {
    await api.unloadModel()
    this.status = await api.modelStatus()
  }
}

export const models = new ModelsState()
