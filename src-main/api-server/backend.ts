// What the OpenAI-compatible server needs from whoever runs the model: the app's services, or an
// engine host driven directly.

import type { GenerationParams, GenerationStats, PromptMessage, ResponseFormat, ToolCall, ToolChoice, ToolDefinition } from '../../src-shared/types.ts'

export interface ServedModel {
  id: string
  /** Unix seconds, as OpenAI's model objects carry. */
  created: number
}

export interface Generated {
  /** The reply's text; when it made calls, its text before them. */
  text: string
  stats: GenerationStats
  toolCalls?: ToolCall[]
}

/** What a request asks for beyond its messages and sampling. */
export interface CompletionOptions {
  /**
   * Text the reply is expected to be close to (OpenAI's Predicted Outputs): the engine drafts
   * from it first. It changes how fast the reply comes, never the reply.
   */
  prediction?: string
  /** The reply kept to JSON, or to a JSON Schema (response_format). */
  responseFormat?: ResponseFormat
  /** Functions the model may call, and whether it must (tools, tool_choice). */
  tools?: ToolDefinition[]
  toolChoice?: ToolChoice
}

export interface CompletionBackend {
  listModels(): Promise<ServedModel[]>
  /**
   * A file's text, read as attachments in the app are (off the main thread); DOCUMENT_INVALID or
   * DOCUMENT_TOO_BIG when it cannot be. Absent: this backend reads no files.
   */
  readDocument?(bytes: Buffer, name: string, signal: AbortSignal): Promise<string>
  /** What the user set as defaults; what neither they nor the request set comes from the model. */
  defaultParams(): Partial<GenerationParams>
  /**
   * One reply from `model`, loaded first when it is not. The request names no conversation, so
   * the engine reuses whichever cached prompt shares the longest prefix with it.
   * When `signal` aborts the engine stops and this resolves with stopReason 'cancelled' (or
   * rejects with CANCELLED when the engine had not begun).
   */
  generate(
    model: string,
    messages: PromptMessage[],
    params: Partial<GenerationParams>,
    onToken: (text: string) => void,
    signal: AbortSignal,
    options?: CompletionOptions,
  ): Promise<Generated>
}
