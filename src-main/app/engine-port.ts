// What the app needs from the engine process's host: the seam between services and engine-host.

import { AppError } from '../../src-shared/errors.ts'
import type { LoadedModelInfo } from '../../src-shared/types.ts'
import type { EngineHost } from '../engine-host/engine-host.ts'
import type { GenerateRequest, GenerateResult, LoadOptions } from '../engine/protocol.ts'

export type { LoadOptions }

/** Without a conversationId (the API server's requests) the engine reuses the closest cached prompt. */
export interface EngineRequest extends GenerateRequest {
  /** The last message is a reply to carry on from its text, not a finished turn. */
  continueLast: boolean
}

export type EngineResult = Pick<GenerateResult, 'text' | 'stats'>

export interface EnginePort {
  /** Whether a request may end in an open reply to carry on (`continueLast`). */
  readonly canContinue: boolean
  load(modelDir: string, options: LoadOptions): Promise<LoadedModelInfo>
  /** Resolves when the reply ends, also when cancelled (stats.stopReason 'cancelled'). */
  generate(request: EngineRequest, onToken: (text: string) => void): Promise<EngineResult>
  /** Asks the engine to stop the conversation's generation (none named: every one); `generate` then resolves. */
  cancel(conversationId?: string): void
  /**
   * Calls `listener` when the engine process dies outside any request of ours too (idle, or
   * under the API server), so the model is known to be gone; returns the unsubscribe.
   */
  onCrash(listener: (error: AppError) => void): () => void
  /** Forgets the conversation's KV cache (it was deleted). */
  dropCache(conversationId: string): Promise<void>
  unload(): Promise<void>
  close(): Promise<void>
}

/** The engine host as the app's engine. */
export function hostEngine(host: EngineHost): EnginePort {
  return {
    canContinue: true,
    load: (modelDir, options) => host.load(modelDir, options),
    generate: (request, onToken) => host.generate(request, onToken),
    cancel: (conversationId) => host.cancel(conversationId),
    onCrash: (listener) => host.onCrash(listener),
    dropCache: (conversationId) => host.dropCache(conversationId),
    unload: () => host.unload(),
    close: () => host.close(),
  }
}

export function cannotContinue(): AppError {
  return new AppError('MODEL_UNSUPPORTED', 'This engine cannot carry on a reply from its text yet. Regenerate the reply instead.')
}
