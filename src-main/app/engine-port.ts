// What the app needs from the engine process's host: the seam between services and engine-host.

import type { AppError } from '../../src-shared/errors.ts'
import type { LoadedModelInfo } from '../../src-shared/types.ts'
import type { EngineHost } from '../engine-host/engine-host.ts'
import type { GenerateRequest, GenerateResult, LoadOptions, PrefillReport, Warmed } from '../model-format/protocol.ts'

export type { LoadOptions, PrefillReport }

/** Without a conversationId (the API server's requests) the engine reuses the closest cached prompt. */
export interface EngineRequest extends GenerateRequest {
  /** The last message is a reply to carry on from its text, not a finished turn. */
  continueLast: boolean
}

export type EngineResult = Pick<GenerateResult, 'text' | 'stats' | 'toolCalls'>

export interface EnginePort {
  load(modelDir: string, options: LoadOptions): Promise<LoadedModelInfo>
  /**
   * Resolves when the reply ends, also when cancelled (stats.stopReason 'cancelled'). A prefill of
   * more than one chunk is reported through onPrefill a few times a second.
   */
  generate(request: EngineRequest, onToken: (text: string) => void, onPrefill?: (report: PrefillReport) => void): Promise<EngineResult>
  /** Each text's tokens with the loaded model's tokenizer. */
  countTokens(texts: string[]): Promise<number[]>
  /** Asks the engine to stop the conversation's generation (none named: every one); `generate` then resolves. */
  cancel(conversationId?: string): void
  /**
   * Calls `listener` when the engine process dies outside any request of ours too (idle, or
   * under the API server), so the model is known to be gone; returns the unsubscribe.
   */
  onCrash(listener: (error: AppError) => void): () => void
  /** Reads the conversation's KV cache from its snapshot ahead of its next request (the chat was opened). */
  warmCache(conversationId: string): Promise<Warmed>
  /** Forgets the conversation's KV cache (it was deleted). */
  dropCache(conversationId: string): Promise<void>
  unload(): Promise<void>
  close(): Promise<void>
}

/** The engine host as the app's engine. */
export function hostEngine(host: EngineHost): EnginePort {
  return {
    load: (modelDir, options) => host.load(modelDir, options),
    generate: (request, onToken, onPrefill) => host.generate(request, onToken, onPrefill),
    countTokens: (texts) => host.countTokens(texts),
    cancel: (conversationId) => host.cancel(conversationId),
    onCrash: (listener) => host.onCrash(listener),
    warmCache: (conversationId) => host.warmCache(conversationId),
    dropCache: (conversationId) => host.dropCache(conversationId),
    unload: () => host.unload(),
    close: () => host.close(),
  }
}
