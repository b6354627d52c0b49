// A backend straight over an engine host: the API server under test without the app's services.

import { AppError } from '../../../src-shared/errors.ts'
import { DEFAULT_PARAMS, type GenerationParams } from '../../../src-shared/types.ts'
import type { EngineHost } from '../../../src-main/engine-host/engine-host.ts'
import type { LoadOptions } from '../../../src-main/model-format/protocol.ts'
import type { CompletionBackend } from '../../../src-main/api-server/backend.ts'

export interface HostBackendOptions {
  host: EngineHost
  /** Model id → model folder. */
  models: Record<string, string>
  load?: LoadOptions
  defaults?: GenerationParams
}

/**
 * The host must be this backend's alone: a cancel stops every generation the host runs, which
 * is exactly the one running, since the server gives the engine one request at a time.
 */
export function hostBackend(opts: HostBackendOptions): CompletionBackend {
  const created = Math.floor(Date.now() / 1000)
  let loaded: string | null = null
  return {
    async listModels() {
      return Object.keys(opts.models).map((id) => ({ id, created }))
    },
    defaultParams: () => structuredClone(opts.defaults ?? DEFAULT_PARAMS),
    async generate(model, messages, params, onToken, signal, options = {}) {
      const dir = opts.models[model]
      if (dir === undefined) throw new AppError('NOT_FOUND', `There is no model '${model}'.`)
      if (loaded !== model) {
        loaded = null
        await opts.host.load(dir, opts.load)
        loaded = model
      }
      if (signal.aborted) throw new AppError('CANCELLED', 'The request was cancelled before the engine began.')
      const cancel = (): void => opts.host.cancel()
      // No macrotask runs between this call and the host registering the request: an abort
      // (a socket 'close' event) always finds it there to cancel.
      const running = opts.host.generate({ messages, params, ...options }, onToken)
      signal.addEventListener('abort', cancel, { once: true })
      try {
        return await running
      } finally {
        signal.removeEventListener('abort', cancel)
      }
    },
  }
}
