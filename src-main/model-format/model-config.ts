// A Hugging Face config.json (+ generation_config.json) read into one normalized shape.

import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../src-shared/errors.ts'
import type { KvDtype, SamplingDefaults } from '../../src-shared/types.ts'

export interface ModelConfig {
  architecture: string
  layers: number
  heads: number
  kvHeads: number
  headDim: number
  hiddenSize: number
  /** null when the config does not say (parameter estimate then unavailable). */
  intermediateSize: number | null
  vocabSize: number
  contextLength: number
  tiedEmbeddings: boolean
  /** Every id that ends generation: config and generation_config together, deduplicated. */
  eosTokenIds: number[]
  bosTokenId: number | null
  /** 'float16' when config.json declares an fp16 cache (transformers.js_config.kv_cache_dtype). */
  declaredKvDtype: KvDtype | null
  /** transformers.js_config.use_external_data_format: chunk counts by .onnx file name ('*': all). */
  externalDataChunks: Record<string, number>
  /** generation_config.json's sampling defaults ([TAG_PARAM_PRECEDENCE]). */
  generationDefaults: SamplingDefaults
}

export type Json = Record<string, unknown>

/**
 * The longest context a config may declare: 2^24 tokens. Position ids become float32 angles in
 * RoPE, exact only up to 2^24, and the longest-context open models declare ~10M (Llama 4 Scout:
 * 10,485,760). A larger value is a broken or hostile config; nothing is sized by it (issue 15).
 */
export const MAX_CONTEXT_LENGTH = 2 ** 24

const CONTEXT_KEYS = ['max_position_embeddings', 'n_positions', 'max_sequence_length', 'seq_length']

/** Reads and validates config.json and the optional generation_config.json; throws MODEL_INVALID. */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  return parseModelConfig(await readJsonObject(dir, 'config.json', true), await readJsonObject(dir, 'generation_config.json', false))
}

/** Validates config.json's object and generation_config.json's (null: none); throws MODEL_INVALID. */
export function parseModelConfig(config: Json, generation: Json | null): ModelConfig {
  // Multimodal configs nest the language model's fields under text_config.
  const text: Json = isObject(config.text_config) ? { ...config, ...config.text_config } : config

  const layers = pickInt(text, ['num_hidden_layers', 'n_layer', 'num_layers'])
  const heads = pickInt(text, ['num_attention_heads', 'n_head'])
  const hiddenSize = pickInt(text, ['hidden_size', 'n_embd', 'd_model'])
  const vocabSize = pickInt(text, ['vocab_size'])
  const [contextKey, contextLength] = pickIntEntry(text, CONTEXT_KEYS) ?? [CONTEXT_KEYS[0], null]
  const missing = Object.entries({
    num_hidden_layers: layers,
    num_attention_heads: heads,
    hidden_size: hiddenSize,
    vocab_size: vocabSize,
    max_position_embeddings: contextLength,
  })
    .filter(([, v]) => v === null)
    .map(([k]) => k)
  if (missing.length > 0 || !layers || !heads || !hiddenSize || !vocabSize || !contextLength) {
    throw new AppError('MODEL_INVALID', `config.json lacks ${missing.join(', ')}`)
  }
  if (contextLength > MAX_CONTEXT_LENGTH) {
    throw new AppError(
      'MODEL_INVALID',
      `config.json's ${contextKey} (${contextLength}) is past the longest context Hearth runs, ${MAX_CONTEXT_LENGTH.toLocaleString('en-US')} tokens`,
    )
  }
  const kvHeads = pickInt(text, ['num_key_value_heads', 'n_head_kv', 'num_kv_heads']) ?? heads
  const headDim = pickInt(text, ['head_dim']) ?? hiddenSize / heads
  if (!Number.isInteger(headDim) || heads % kvHeads !== 0) {
    throw new AppError(
      'MODEL_INVALID',
      `config.json shapes do not fit: hidden_size ${hiddenSize}, ${heads} heads, ${kvHeads} key/value heads`,
    )
  }

  const jsConfig = isObject(config['transformers.js_config']) ? config['transformers.js_config'] : {}
  const kvDtype = jsConfig.kv_cache_dtype
  const declaredKvDtype =
    kvDtype === 'float16' || (isObject(kvDtype) && Object.values(kvDtype).includes('float16'))
      ? 'float16'
      : kvDtype === 'float32'
        ? 'float32'
        : null

  const eos = new Set([...idList(config.eos_token_id), ...idList(generation?.eos_token_id)])
  const bos = idList(generation?.bos_token_id ?? config.bos_token_id)[0] ?? null

  return {
    architecture: typeof config.model_type === 'string' ? config.model_type : 'unknown',
    layers,
    heads,
    kvHeads,
    headDim,
    hiddenSize,
    intermediateSize: pickInt(text, ['intermediate_size', 'n_inner', 'ffn_dim']),
    vocabSize,
    contextLength,
    tiedEmbeddings: text.tie_word_embeddings !== false,
    eosTokenIds: [...eos],
    bosTokenId: bos,
    declaredKvDtype,
    externalDataChunks: chunkCounts(jsConfig.use_external_data_format),
    generationDefaults: samplingDefaults(generation),
  }
}

/**
 * The sampling defaults generation_config.json states, in our names. do_sample false is greedy
 * (Hugging Face then ignores temperature and the cuts, but still applies the penalty). A value out
 * of its range is ignored as if unnamed: a bad default must not keep the model from loading.
 */
export function samplingDefaults(generation: Json | null): SamplingDefaults {
  if (!generation) return {}
  const num = (key: string, fits: (v: number) => boolean): number | undefined => {
    const v = generation[key]
    return typeof v === 'number' && Number.isFinite(v) && fits(v) ? v : undefined
  }
  const out: SamplingDefaults = {}
  const penalty = num('repetition_penalty', (v) => v > 0)
  if (penalty !== undefined) out.repetitionPenalty = penalty
  if (generation.do_sample === false) return { ...out, temperature: 0 }
  const temperature = num('temperature', (v) => v >= 0)
  const topK = num('top_k', (v) => Number.isInteger(v) && v >= 0)
  const topP = num('top_p', (v) => v > 0 && v <= 1)
  const minP = num('min_p', (v) => v >= 0 && v <= 1)
  if (temperature !== undefined) out.temperature = temperature
  if (topK !== undefined) out.topK = topK
  if (topP !== undefined) out.topP = topP
  if (minP !== undefined) out.minP = minP
  return out
}

/** Parameters of a Llama-style decoder with a gated MLP; null without intermediate_size. */
export function estimateParameters(c: ModelConfig): number | null {
  if (c.intermediateSize === null) return null
  const attention = c.hiddenSize * c.headDim * (2 * c.heads + 2 * c.kvHeads)
  const mlp = 3 * c.hiddenSize * c.intermediateSize
  const norms = 2 * c.hiddenSize
  const embeddings = c.vocabSize * c.hiddenSize * (c.tiedEmbeddings ? 1 : 2)
  return embeddings + c.layers * (attention + mlp + norms) + c.hiddenSize
}

async function readJsonObject(dir: string, name: string, required: true): Promise<Json>
async function readJsonObject(dir: string, name: string, required: false): Promise<Json | null>
async function readJsonObject(dir: string, name: string, required: boolean): Promise<Json | null> {
  let text: string
  try {
    text = await readFile(path.join(dir, name), 'utf8')
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new AppError('MODEL_INVALID', `${name} is missing or unreadable`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new AppError('MODEL_INVALID', `${name} is not valid JSON (${(err as Error).message})`)
  }
  if (!isObject(value)) throw new AppError('MODEL_INVALID', `${name} is not a JSON object`)
  return value
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function pickInt(obj: Json, keys: string[]): number | null {
  return pickIntEntry(obj, keys)?.[1] ?? null
}

/** The first of `keys` holding a positive integer, and its value. */
function pickIntEntry(obj: Json, keys: string[]): [string, number] | null {
  for (const key of keys) {
    const v = obj[key]
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return [key, v]
  }
  return null
}

function idList(value: unknown): number[] {
  if (typeof value === 'number' && Number.isInteger(value)) return [value]
  if (Array.isArray(value)) return value.filter((v): v is number => Number.isInteger(v))
  return []
}

/** `true` means one chunk per file; a number applies to every file ('*'); an object names files. */
function chunkCounts(value: unknown): Record<string, number> {
  if (value === true) return { '*': 1 }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return { '*': value }
  if (!isObject(value)) return {}
  const out: Record<string, number> = {}
  for (const [file, n] of Object.entries(value)) {
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0) out[file] = n
    else if (n === true) out[file] = 1
  }
  return out
}
