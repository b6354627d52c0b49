// What the app needs from the engine process's host: the seam between services and engine-host.

import type {
  ChatMessage,
  ContextPolicy,
  GenerationParams,
  GenerationStats,
  LoadedModelInfo,
  ProviderName,
  VariantName,
} from '../../src-shared/types.ts'

export interface EngineLoadOptions {
  /** Tried in order; the first that opens the model is used. */
  providers: ProviderName[]
  threads: number
  variant?: VariantName | undefined
  /** Bytes for all KV caches; undefined: the engine's default. */
  kvCacheBudgetBytes?: number | undefined
  modelId: string
}

export interface EngineRequest {
  conversationId: string
  messages: ChatMessage[]
  params: GenerationParams
  contextPolicy: ContextPolicy
  /** The last message is a reply to carry on from its text, not a finished turn. */
  continueLast: boolean
}

export interface EngineResult {
  text: string
  stats: GenerationStats
}

export interface EnginePort {
  load(modelDir: string, options: EngineLoadOptions): Promise<LoadedModelInfo>
  /** Resolves when the reply ends, also when cancelled (stats.stopReason 'cancelled'). */
  generate(request: EngineRequest, onToken: (text: string) => void): Promise<EngineResult>
  /** Stops the running generation; resolves once the engine has stopped it. */
  cancel(): Promise<void>
  unload(): Promise<void>
  close(): Promise<void>
}
