// The model's tokenizer and chat template, loaded from a Hugging Face model folder.
//
// tokenizer.json runs through @huggingface/tokenizers; the chat template (tokenizer_config.json's
// chat_template as a string or a named list, or chat_template.jinja / chat_template.json) through
// @huggingface/jinja. eosIds gathers every id that ends a reply: generation_config.json's
// eos_token_id (a number or a list), config.json's, tokenizer_config.json's eos_token, and the
// template's end-of-turn token (<|im_end|>, <|eot_id|>, <|end|>, ...), found by rendering a probe
// conversation and taking the first special token after the assistant's text.
// Prompts are encoded as apply_chat_template does: the template writes BOS and the other special
// tokens, so the rendered text is encoded without adding special tokens again.

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Tokenizer } from '@huggingface/tokenizers'
import { AppError } from '../../src-shared/errors.ts'
import type { PromptMessage } from '../../src-shared/types.ts'
import { compileChatTemplate, findEndOfTurn, pickTemplate } from './chat-template.ts'
import type { ChatTemplate, RenderOptions } from './chat-template.ts'
import type { TokenBytes } from './text-stream.ts'
import { toolFormatOf, type ToolFormat } from './tools.ts'

export type { RenderOptions } from './chat-template.ts'

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
  renderChat(messages: readonly PromptMessage[], opts: RenderOptions): string
  /** renderChat then encode, without adding special tokens twice (the template writes them). */
  encodeChat(messages: readonly PromptMessage[], opts: RenderOptions): number[]
  /** Every token as tokenizer.json writes it, by id, and how those strings map to text: what a grammar matcher needs. */
  vocabulary(): Vocabulary
  /** How the chat template has the model write tool calls; null when it renders no tools. */
  readonly toolFormat: ToolFormat | null
}

/**
 * The raw vocabulary: 'byte_level' strings spell bytes in GPT-2's alphabet (SmolLM2, Qwen, Llama 3);
 * 'byte_fallback' ones use ▁ for a space and <0xNN> for bytes (Llama 2, Phi-3); 'raw' ones are text.
 * `prependSpace`: the decoder strips a leading space the tokenizer adds.
 */
export interface Vocabulary {
  tokens: string[]
  kind: 'byte_level' | 'byte_fallback' | 'raw'
  prependSpace: boolean
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

type Json = Record<string, unknown>

/** Reads tokenizer.json, tokenizer_config.json, chat templates and eos ids from a model folder. */
export async function loadTokenizer(modelDir: string): Promise<ChatTokenizer> {
  const tokenizerJson = await readJson(modelDir, 'tokenizer.json', true)
  const tokenizerConfig = (await readJson(modelDir, 'tokenizer_config.json', false)) ?? {}
  const config = await readJson(modelDir, 'config.json', false)
  const generationConfig = await readJson(modelDir, 'generation_config.json', false)
  let chatTemplate = await readText(join(modelDir, 'chat_template.jinja'))
  const templateJson = await readJson(modelDir, 'chat_template.json', false)
  if (chatTemplate === undefined && typeof templateJson?.chat_template === 'string') {
    chatTemplate = templateJson.chat_template
  }
  return createChatTokenizer({
    tokenizerJson: tokenizerJson as Json,
    tokenizerConfig,
    ...(chatTemplate !== undefined && { chatTemplate }),
    ...(config && { config }),
    ...(generationConfig && { generationConfig }),
  })
}

export function createChatTokenizer(sources: TokenizerSources): ChatTokenizer {
  const tokenizerJson = sources.tokenizerJson as Json
  const tokenizerConfig = sources.tokenizerConfig as Json
  let tok: Tokenizer
  try {
    tok = new Tokenizer(tokenizerJson, tokenizerConfig)
  } catch (err) {
    throw new AppError('MODEL_UNSUPPORTED', `The model's tokenizer.json cannot be loaded: ${errorText(err)}`)
  }
  const specialIds = new Set<number>()
  for (const [id, added] of tok.get_added_tokens_decoder()) if (added.special) specialIds.add(id)
  let vocabSize = 0
  for (const id of tok.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1)

  const tokenText = (token: unknown): string | null => {
    if (typeof token === 'string') return token
    if (typeof token === 'object' && token !== null && typeof (token as Json).content === 'string') {
      return (token as Json).content as string
    }
    return null
  }
  const idOf = (token: unknown): number | null => {
    const text = tokenText(token)
    return text === null ? null : (tok.token_to_id(text) ?? null)
  }

  const templateSource = sources.chatTemplate ?? pickTemplate(tokenizerConfig.chat_template)
  const template: ChatTemplate | null =
    templateSource === null
      ? null
      : compileChatTemplate(templateSource, {
          bos_token: tokenText(tokenizerConfig.bos_token) ?? '',
          eos_token: tokenText(tokenizerConfig.eos_token) ?? '',
          pad_token: tokenText(tokenizerConfig.pad_token) ?? '',
          unk_token: tokenText(tokenizerConfig.unk_token) ?? '',
        })
  const renderChat = (messages: readonly PromptMessage[], opts: RenderOptions): string => {
    if (template === null) {
      throw new AppError('MODEL_UNSUPPORTED', 'The model has no chat template (tokenizer_config.json has no chat_template).')
    }
    return template.render(messages, opts)
  }
  const encode = (text: string, opts?: { addSpecialTokens?: boolean }): number[] =>
    tok.encode(text, { add_special_tokens: opts?.addSpecialTokens ?? false }).ids

  const endOfTurnId = template === null ? null : findEndOfTurn(template, encode, (id) => specialIds.has(id))
  const eosIds = new Set<number>()
  for (const source of [sources.generationConfig, sources.config] as (Json | undefined)[]) {
    for (const id of [source?.eos_token_id].flat()) if (typeof id === 'number') eosIds.add(id)
  }
  const configEos = idOf(tokenizerConfig.eos_token)
  if (configEos !== null) eosIds.add(configEos)
  if (endOfTurnId !== null) eosIds.add(endOfTurnId)
  const configBos = (sources.config as Json | undefined)?.bos_token_id
  const bosId = typeof configBos === 'number' ? configBos : idOf(tokenizerConfig.bos_token)

  const bytesOf = tokenBytesFor(tokenizerJson, tok, specialIds)
  const byteCache: (Uint8Array | undefined)[] = new Array(vocabSize)

  return {
    vocabSize,
    toolFormat: toolFormatOf(templateSource),
    eosIds,
    endOfTurnId,
    bosId,
    stripsLeadingSpace: bytesOf.stripsLeadingSpace,
    encode,
    decode: (ids, opts) =>
      ids.length === 0 ? '' : tok.decode([...ids], { skip_special_tokens: opts?.skipSpecialTokens ?? true }),
    isSpecial: (id) => specialIds.has(id),
    tokenBytes(id: number): Uint8Array {
      let bytes = byteCache[id]
      if (bytes === undefined) {
        bytes = bytesOf.bytes(id)
        byteCache[id] = bytes
      }
      return bytes
    },
    renderChat,
    encodeChat: (messages, opts) => encode(renderChat(messages, opts)),
    vocabulary(): Vocabulary {
      const tokens: string[] = Array.from({ length: vocabSize }, () => '')
      for (const [text, id] of tok.get_vocab(true)) tokens[id] = text
      return { tokens, ...vocabularyKind(tokenizerJson.decoder) }
    },
  }
}

/** How the decoder turns vocabulary strings into text, read from tokenizer.json's decoder (one or a Sequence). */
function vocabularyKind(decoder: unknown): Pick<Vocabulary, 'kind' | 'prependSpace'> {
  const d = (typeof decoder === 'object' && decoder !== null ? decoder : {}) as Json
  const parts = (d.type === 'Sequence' && Array.isArray(d.decoders) ? d.decoders : [d]) as Json[]
  const types = parts.map((p) => p?.type)
  if (types.includes('ByteLevel')) return { kind: 'byte_level', prependSpace: false }
  if (types.includes('ByteFallback')) {
    const strip = parts.find((p) => p?.type === 'Strip')
    return { kind: 'byte_fallback', prependSpace: typeof strip?.start === 'number' && strip.start > 0 }
  }
  return { kind: 'raw', prependSpace: false }
}

/** GPT-2's bytes_to_unicode: byte b is written as alphabet[b] in byte-level BPE vocabularies. */
export function byteLevelAlphabet(): string[] {
  const alphabet: string[] = new Array(256)
  let next = 256
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
    alphabet[b] = String.fromCodePoint(printable ? b : next++)
  }
  return alphabet
}

interface ByteMap {
  bytes(id: number): Uint8Array
  stripsLeadingSpace: boolean
}

/**
 * How each token id becomes bytes, read off tokenizer.json's decoder: byte-level BPE maps each
 * character back through GPT-2's alphabet; SentencePiece-style vocabularies write spaces as U+2581
 * and raw bytes as <0xAB>; anything else falls back to decoding the token alone.
 */
function tokenBytesFor(tokenizerJson: Json, tok: Tokenizer, specialIds: ReadonlySet<number>): ByteMap {
  const utf8 = new TextEncoder()
  const empty = new Uint8Array(0)
  const decoders = flattenDecoders(tokenizerJson.decoder)
  const types = new Set(decoders.map((d) => d.type))
  const token = (id: number): string | undefined => (specialIds.has(id) ? undefined : tok.id_to_token(id))
  const addedIds = new Set(tok.get_added_tokens_decoder().keys())

  if (types.has('ByteLevel')) {
    const byteOf = new Map(byteLevelAlphabet().map((ch, b) => [ch, b]))
    return {
      stripsLeadingSpace: false,
      bytes(id) {
        const t = token(id)
        if (t === undefined) return empty
        // Added tokens that are not special (Qwen's <tool_call>) are plain text, not byte-mapped.
        if (addedIds.has(id)) return utf8.encode(t)
        const chars = Array.from(t)
        if (!chars.every((ch) => byteOf.has(ch))) return utf8.encode(t)
        return Uint8Array.from(chars, (ch) => byteOf.get(ch) as number)
      },
    }
  }
  if (types.has('ByteFallback') || types.has('Metaspace') || decoders.some(replacesMetaspace)) {
    const strip = decoders.find((d) => d.type === 'Strip')
    const metaspace = decoders.find((d) => d.type === 'Metaspace')
    const stripsLeadingSpace =
      (typeof strip?.start === 'number' && strip.start > 0) ||
      (metaspace !== undefined && (metaspace.prepend_scheme ?? (metaspace.add_prefix_space ? 'always' : 'never')) !== 'never')
    return {
      stripsLeadingSpace,
      bytes(id) {
        const t = token(id)
        if (t === undefined) return empty
        const raw = /^<0x([0-9A-Fa-f]{2})>$/.exec(t)
        if (raw && types.has('ByteFallback')) return Uint8Array.of(parseInt(raw[1] as string, 16))
        return utf8.encode(t.replaceAll('\u2581', ' '))
      },
    }
  }
  return {
    stripsLeadingSpace: false,
    bytes: (id) => (specialIds.has(id) ? empty : utf8.encode(tok.decode([id], { clean_up_tokenization_spaces: false }))),
  }
}

function flattenDecoders(decoder: unknown): Json[] {
  if (typeof decoder !== 'object' || decoder === null) return []
  const d = decoder as Json
  return d.type === 'Sequence' && Array.isArray(d.decoders) ? d.decoders.flatMap(flattenDecoders) : [d]
}

function replacesMetaspace(d: Json): boolean {
  const pattern = d.pattern as Json | undefined
  return d.type === 'Replace' && pattern?.String === '\u2581'
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new AppError('MODEL_INVALID', `Cannot read ${path}: ${errorText(err)}`)
  }
}

async function readJson(dir: string, name: string, required: true): Promise<Json>
async function readJson(dir: string, name: string, required: false): Promise<Json | undefined>
async function readJson(dir: string, name: string, required: boolean): Promise<Json | undefined> {
  const text = await readText(join(dir, name))
  if (text === undefined) {
    if (required) throw new AppError('MODEL_INVALID', `The model folder ${dir} has no ${name}.`)
    return undefined
  }
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object')
    return value as Json
  } catch (err) {
    throw new AppError('MODEL_INVALID', `${name} in ${dir} is not valid JSON: ${errorText(err)}`)
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
