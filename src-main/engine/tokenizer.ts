// The model's tokenizer and chat template, loaded from a Hugging Face model folder.
//
// tokenizer.json runs through @huggingface/tokenizers; the chat template (tokenizer_config.json's
// chat_template as a string or a named list, or chat_template.jinja / chat_template.json) through
// @huggingface/jinja. eosIds gathers every id that ends a reply: generation_config.json's
// eos_token_id (a number or a list), config.json's, tokenizer_config.json's eos_token, and the
// template's end-of-turn token (<|im_end|>, <|eot_id|>, <|end|>, ...).

import type { ChatMessage } from '../../src-shared/types.ts'
import type { TokenBytes } from './text-stream.ts'

export interface RenderOptions {
  /** Append the assistant header so the model writes the reply. */
  addGenerationPrompt: boolean
  /** The clock templates see through strftime_now (Llama 3's date line); default now. */
  now?: Date
}

export interface ChatTokenizer extends TokenBytes {
  /** Highest token id + 1, added tokens included. */
  readonly vocabSize: number
  /** Every id that ends a reply: eos ids from all config files plus the end-of-turn token. */
  readonly eosIds: ReadonlySet<number>
  /** The token the template closes an assistant turn with, when it has one. */
  readonly endOfTurnId: number | null
  readonly bosId: number | null
  /** addSpecialTokens (default false) adds what the post-processor adds, e.g. a BOS. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[]
  /** skipSpecialTokens defaults to true. */
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string
  isSpecial(id: number): boolean
  /** The prompt text the model's chat template makes of these messages. */
  renderChat(messages: readonly ChatMessage[], opts: RenderOptions): string
  /** renderChat then encode, without adding special tokens twice (the template writes them). */
  encodeChat(messages: readonly ChatMessage[], opts: RenderOptions): number[]
}

/** The parsed JSON files a tokenizer is made from; config files are optional. */
export interface TokenizerSources {
  tokenizerJson: object
  tokenizerConfig: object
  /** Overrides tokenizer_config.json's chat_template (from chat_template.jinja/.json). */
  chatTemplate?: string
  config?: object
  generationConfig?: object
}

/** Reads tokenizer.json, tokenizer_config.json, chat templates and eos ids from a model folder. */
export async function loadTokenizer(modelDir: string): Promise<ChatTokenizer> {
  throw new Error(`loadTokenizer(${modelDir}): not implemented yet`)
}

export function createChatTokenizer(sources: TokenizerSources): ChatTokenizer {
  throw new Error(`createChatTokenizer(${Object.keys(sources).join()}): not implemented yet`)
}
