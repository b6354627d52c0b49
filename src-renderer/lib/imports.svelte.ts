// Models the user adds from this computer: GGUF conversions in progress, the last one that failed,
// and the GGUF files other apps keep here.

import type { GgufCandidate, ImportProgress, ModelSummary } from '../../src-shared/types.ts'
import { api, ApiError } from './api.ts'
import { models } from './models.svelte.ts'
import { ui } from './ui.svelte.ts'

class ImportsState {
  /** Conversions running now, in the order they started. */
  running = $state<ImportProgress[]>([])
  /** The last import that failed, with the reason; cleared when the next one starts. */
  failure = $state<{ source: string; message: string } | null>(null)
  found = $state<GgufCandidate[]>([])
  /** false until the first search for other apps' models has answered. */
  searched = $state(false)

  constructor() {
    api.on('importProgress', (progress) => {
      const others = this.running.filter((p) => p.source !== progress.source)
      this.running = progress.state === 'converting' ? [...others, progress] : others
    })
  }

  converting(source: string): ImportProgress | undefined {
    return this.running.find((p) => p.source === source)
  }

  /** Adds a folder or a GGUF file; says how it went in a toast, or as `failure`. Resolves true when added. */
  async add(source: string, name?: string): Promise<boolean> {
    this.failure = null
    let model: ModelSummary
    try {
      // A folder is linked where it is; a GGUF is always converted into a new folder. No trailing
      // undefined argument: JSON (the WebSocket bridge) would send it as null, which is no name.
      model = await (name === undefined ? api.importModel(source, 'link') : api.importModel(source, 'link', name))
    } catch (err) {
      if (err instanceof ApiError && err.code === 'CANCELLED') ui.toast('Import cancelled: nothing was added')
      else this.failure = { source, message: err instanceof Error ? err.message : String(err) }
      return false
    }
    if (model.valid) ui.toast(`Added ${model.name}`)
    else ui.toast(`${model.name} is not usable: ${model.reason}`, { kind: 'error', ms: 10_000 })
    await models.refresh()
    return true
  }

  async cancel(source: string): Promise<void> {
    await ui.attempt(() => api.cancelImport(source))
  }

  /** Looks again; a failure leaves the list as it was, since the other ways to add a model still work. */
  async find(): Promise<void> {
    try {
      this.found = await api.findGgufModels()
    } finally {
      this.searched = true
    }
  }
}

export const imports = new ImportsState()
