// Adding a model the user has: a folder goes to the library as it is; a GGUF file is converted,
// one conversion per file at a time, with progress as events and a cancel for each.

import { stat } from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../src-shared/errors.ts'
import type { ImportMode, ImportProgress, ModelSummary } from '../../src-shared/types.ts'
import { isGgufFile } from '../models/gguf/discover.ts'
import { ggufModelId, type ModelLibrary } from '../models/library.ts'
import type { EventHub } from './events.ts'

export class ModelImports {
  readonly #library: ModelLibrary
  readonly #events: EventHub
  /** The conversions running, by the GGUF's absolute path. */
  readonly #running = new Map<string, { controller: AbortController; modelId: string }>()

  constructor(library: ModelLibrary, events: EventHub) {
    this.#library = library
    this.#events = events
  }

  async import(source: string, mode: ImportMode, name?: string): Promise<ModelSummary> {
    const src = path.resolve(source)
    const info = await stat(src).catch(() => null)
    // Not there, or a folder: the folder import says what is wrong with it.
    if (!info?.isFile()) return this.#library.import(src, mode)
    if (!(await isGgufFile(src))) {
      throw new AppError('IMPORT_INVALID', `${src} is neither a model folder nor a GGUF file (a GGUF starts with the bytes "GGUF")`)
    }
    if (this.#running.has(src)) throw new AppError('CONFLICT', `${path.basename(src)} is being converted already`)
    const modelId = ggufModelId(name ?? src)
    // Two files of one name would both pass the library's check and collide when moved in.
    if ([...this.#running.values()].some((r) => r.modelId === modelId)) {
      throw new AppError('CONFLICT', `A model named "${modelId}" is being imported already`)
    }
    const controller = new AbortController()
    this.#running.set(src, { controller, modelId })
    const progress = (update: Pick<ImportProgress, 'state' | 'done' | 'total'> & { error?: ImportProgress['error'] }): void => {
      this.#events.emit('importProgress', { source: src, modelId, error: null, ...update })
    }
    let last = { done: 0, total: 0 }
    progress({ state: 'converting', ...last })
    try {
      const model = await this.#library.importGguf(src, {
        signal: controller.signal,
        name,
        onProgress: (done, total) => {
          last = { done, total }
          progress({ state: 'converting', done, total })
        },
      })
      progress({ state: 'done', ...last })
      return model
    } catch (err) {
      const error = AppError.toData(err)
      progress(error.code === 'CANCELLED' ? { state: 'cancelled', ...last } : { state: 'failed', ...last, error })
      throw err
    } finally {
      this.#running.delete(src)
    }
  }

  /** A no-op when no conversion of the file runs: it may have just ended. */
  cancel(source: string): void {
    this.#running.get(path.resolve(source))?.controller.abort()
  }

  cancelAll(): void {
    for (const { controller } of this.#running.values()) controller.abort()
  }
}
