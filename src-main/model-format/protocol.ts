// The message protocol between the engine host (main process) and the engine process.
// Errors cross as ErrorData; every request carries an id its reply echoes.

import type { ErrorData } from '../../src-shared/errors.ts'
import type {
  ContextPolicy,
  GenerationParams,
  GenerationStats,
  KvDtype,
  LoadedModelInfo,
  PromptMessage,
  ProviderName,
  ResponseFormat,
  ToolCall,
  ToolChoice,
  ToolDefinition,
  VariantName,
} from '../../src-shared/types.ts'

export interface LoadOptions {
  /** Weight variant; default: the best for the provider in use (chooseVariant). */
  variant?: VariantName
  /** Providers to try in order; default: the platform's preference (defaultProviders). */
  providers?: ProviderName[]
  /** Intra-op threads; default: defaultThreads(). */
  threads?: number
  /**
   * The longest context the model runs with, tokens: prompts are fitted to it, buffers and the
   * memory check stop at it, and LoadedModelInfo states it. Default (or above the model's own):
   * config.json's.
   */
  contextLength?: number
  /**
   * The element type the KV cache is kept in; default: the export's. float16 halves a float32
   * export's cache. Needs the in-place update; without it the export's type stays, in kvUpdateNotes.
   */
  kvDtype?: KvDtype
  /**
   * Whether 4-bit matmuls (MatMulNBits) quantize their activations to int8 (accuracy_level 4), as
   * llama.cpp's q4 kernels do; default true. Needs a rewritten graph (the export as it is keeps
   * its own, and says so). Decode 1.14-1.26x faster at the SmolLM2-135M shape; stories260K's
   * perplexity moved by -0.2% (`npm run bench -- ppl`; PERFORMANCE.md).
   */
  int8Activations?: boolean
  /**
   * Whether idle intra-op threads busy-wait instead of sleeping; default false: no faster on a
   * quiet machine, 1.4-3.2x slower when other programs want the cores (PERFORMANCE.md).
   */
  spinning?: boolean
  /** Prompt tokens per forward pass during prefill; 0 or absent: 256. */
  prefillChunk?: number
  /** Memory the loaded model may take, bytes; default: the machine's available memory. */
  memoryLimitBytes?: number
  /** Bytes all conversations' KV caches may hold; default: a quarter of available memory. */
  kvBudgetBytes?: number
  /** Where evicted caches are written (the app's data dir); null or absent: no snapshots. */
  snapshotDir?: string | null
  /** Disk bytes snapshots may take; default 2 GiB. */
  snapshotBudgetBytes?: number
  /**
   * A smaller model with the same vocabulary, loaded beside this one to draft tokens for
   * speculative decoding; absent: drafts come from the text only.
   */
  draftModelDir?: string
}

export interface GenerateRequest {
  /** The conversation whose KV cache to reuse; absent: the closest cached prompt (API server). */
  conversationId?: string
  messages: PromptMessage[]
  /** What was asked; the engine settles the rest from the model's defaults ([TAG_PARAM_PRECEDENCE]). */
  params: Partial<GenerationParams>
  /** What to do when the prompt does not fit the context; default 'stop'. */
  contextPolicy?: ContextPolicy
  /**
   * The last message is an assistant reply to carry on from its text (after a cancel, say)
   * instead of a finished turn to answer.
   */
  continueLast?: boolean
  /** Speculative decoding; default on: drafts from the text (and the draft model, when loaded). */
  speculate?: boolean
  /**
   * Text the reply is expected to be close to (the OpenAI API's Predicted Outputs): drafts are
   * taken from it first. Never changes the reply, only how fast it comes.
   */
  prediction?: string
  /** The reply kept to a grammar: any JSON object, or JSON matching a schema (constrained decoding). Default: text. */
  responseFormat?: ResponseFormat
  /** Functions the model may call, rendered through its chat template; its calls come back parsed. */
  tools?: ToolDefinition[]
  /** Default 'auto'. 'required' or a function's name: the reply is one call, kept to its schema by constrained decoding. */
  toolChoice?: ToolChoice
}

export interface GenerateResult {
  /** The reply as streamed (stop strings removed). */
  text: string
  /** Generated token ids, eos excluded. */
  tokens: number[]
  /** The calls the reply made (tools were given); `text` is then the reply's text before them. */
  toolCalls?: ToolCall[]
  stats: GenerationStats
}

export interface CacheInfo {
  conversationId: string
  tokens: number
  bytes: number
}

/** What warming a conversation's cache found: in memory already, read from its snapshot, or neither (and why). */
export type Warmed =
  | { from: 'memory' | 'snapshot'; tokens: number }
  | { from: 'none'; reason: 'no-snapshot' | 'budget' | 'no-model' }

export interface EngineInfo {
  model: LoadedModelInfo | null
  caches: CacheInfo[]
  kvBytes: number
  kvBudgetBytes: number
}

/** Each request kind: what it carries and what its 'done' reply holds. */
export interface Requests {
  load: { args: { modelDir: string; options: LoadOptions }; result: LoadedModelInfo }
  generate: { args: { request: GenerateRequest }; result: GenerateResult }
  /** Each text's length in tokens with the loaded model's tokenizer (no special tokens added). */
  'count-tokens': { args: { texts: string[] }; result: number[] }
  'drop-cache': { args: { conversationId: string }; result: null }
  /** Reads a conversation's cache from its snapshot ahead of its next request (the chat was opened). */
  'warm-cache': { args: { conversationId: string }; result: Warmed }
  info: { args: Record<string, never>; result: EngineInfo }
  /** Writes every cache to its snapshot (when snapshots are on) and frees the model. */
  unload: { args: Record<string, never>; result: null }
}
export type RequestKind = keyof Requests

/** Host to engine. `cancel` names the id of a generate request. */
export type HostMessage =
  | { [K in RequestKind]: { type: K; id: number } & Requests[K]['args'] }[RequestKind]
  | { type: 'cancel'; id: number }

/** How far a long prompt's prefill has gone: positions in the cache, of the prompt's. */
export interface PrefillReport {
  done: number
  total: number
  /** Over the tokens prefilled so far in this request. */
  tokensPerSecond: number
}

/** Engine to host. */
export type EngineMessage =
  | { type: 'token'; id: number; text: string }
  | ({ type: 'progress'; id: number } & PrefillReport)
  | { type: 'done'; id: number; result: Requests[RequestKind]['result'] }
  | { type: 'error'; id: number; error: ErrorData }
