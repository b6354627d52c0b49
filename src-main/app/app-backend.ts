// The API server's backend in the app: the library's models, run by the same engine and under
// the same lock as the chats, so a request waits for a reply being written and vice versa.

import { stat } from 'node:fs/promises'
import { AppError } from '../../src-shared/errors.ts'
import type { Settings } from '../../src-shared/types.ts'
import type { CompletionBackend } from '../api-server/backend.ts'
import type { ModelLibrary } from '../models/library.ts'
import type { TextExtractor } from './documents.ts'
import type { EnginePort, EngineRequest } from './engine-port.ts'
import type { ModelService } from './model-service.ts'

export interface AppBackendDeps {
  library: ModelLibrary
  models: ModelService
  engine: EnginePort
  settings: () => Settings
  /** Reads files sent as content parts, as attachments are read; absent: the server reads none. */
  extractor?: TextExtractor
}

export function appBackend(deps: AppBackendDeps): CompletionBackend {
  const { extractor } = deps
  return {
    ...(extractor && { readDocument: async (bytes: Buffer, name: string, signal: AbortSignal) => (await extractor.extract(bytes, name, { signal })).text }),
    async listModels() {
      const valid = (await deps.library.list()).filter((m) => m.valid)
      return Promise.all(
        valid.map(async (m) => ({ id: m.id, created: Math.floor(((await stat(m.dir).catch(() => null))?.mtimeMs ?? 0) / 1000) })),
      )
    },
    defaultParams: () => deps.settings().defaultParams,
    async generate(model, messages, params, onToken, signal, options = {}) {
      const cancelled = (): AppError => new AppError('CANCELLED', 'The request was cancelled before the engine began.')
      const endUse = deps.models.beginUse()
      try {
        return await deps.models.exclusive(async () => {
          if (signal.aborted) throw cancelled()
          // A request for another model than the chats' loads it, as LM Studio's just-in-time loading does.
          await deps.models.ensureLoaded(model)
          if (signal.aborted) throw cancelled()
          // Inside the engine lock this is the only generation the engine runs, so cancelling
          // every generation stops just this one. The listener goes before the lock is released.
          const cancel = (): void => deps.engine.cancel()
          signal.addEventListener('abort', cancel, { once: true })
          try {
            const request: EngineRequest = {
              messages,
              params,
              contextPolicy: 'stop',
              continueLast: false,
              speculate: deps.settings().speculativeDecoding,
              ...(options.prediction === undefined ? {} : { prediction: options.prediction }),
              ...(options.responseFormat === undefined ? {} : { responseFormat: options.responseFormat }),
              ...(options.tools === undefined ? {} : { tools: options.tools, toolChoice: options.toolChoice ?? 'auto' }),
            }
            return await deps.engine.generate(request, onToken)
          } finally {
            signal.removeEventListener('abort', cancel)
          }
        })
      } finally {
        endUse()
      }
    },
  }
}
