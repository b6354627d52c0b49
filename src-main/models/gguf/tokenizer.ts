// Hugging Face tokenizer.json and tokenizer_config.json built from a GGUF's tokenizer metadata.
//
// 'llama' vocabularies (SentencePiece BPE with scores and byte fallback) become what transformers'
// LlamaTokenizerFast (legacy) carries: merges derived from the pieces' scores, a normalizer that
// prepends '▁' to every stretch of text between special tokens (as llama.cpp and llama2.c add
// their dummy prefix), and a decoder that strips it again. 'gpt2' vocabularies (byte-level BPE)
// keep their merges and get the split regex their model's tokenizer.json carries, chosen by
// tokenizer.ggml.pre. The engine's chat template writes BOS itself, so add_bos_token only shapes
// the post-processor (encode with special tokens) and the plain template written when the GGUF
// has none.

import { AppError } from '../../../src-shared/errors.ts'
import type { GgufValue } from './gguf-types.ts'

export interface GgufTokenizer {
  tokenizerJson: object
  tokenizerConfig: object
  bosTokenId: number | null
  /** eos, then end-of-turn and end-of-message ids: stop on every one. */
  eosTokenIds: number[]
  padTokenId: number | null
  /** What the conversion had to assume, for the model's info. */
  notes: string[]
}

/** llama.cpp's llama_token_type. */
const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const

const SPACE = '\u2581'
const BYTE_TOKEN = /^<0x[0-9A-F]{2}>$/

/** tokenizer.json's added_tokens entry; matched in the raw text, before any normalizer. */
type AddedToken = { id: number; content: string; special: boolean } & Record<'single_word' | 'lstrip' | 'rstrip' | 'normalized', false>

interface Vocabulary {
  tokens: string[]
  types: number[]
  bos: number | null
  eos: number | null
  unk: number | null
  pad: number | null
  addBos: boolean
  addEos: boolean
  addedTokens: AddedToken[]
  notes: string[]
}

export function ggufTokenizer(metadata: Map<string, GgufValue>): GgufTokenizer {
  const model = metadata.get('tokenizer.ggml.model')
  if (typeof model !== 'string') {
    throw new AppError('MODEL_INVALID', 'The GGUF file has no tokenizer (tokenizer.ggml.model is missing).')
  }
  if (model !== 'llama' && model !== 'gpt2') {
    throw new AppError(
      'MODEL_UNSUPPORTED',
      `The GGUF's tokenizer model '${model}' is not supported: only 'llama' (SentencePiece BPE) and 'gpt2' (byte-level BPE) are.`,
    )
  }
  const tokens = metadata.get('tokenizer.ggml.tokens')
  if (!isStringArray(tokens) || tokens.length === 0) {
    throw new AppError('MODEL_INVALID', 'The GGUF file has no token list (tokenizer.ggml.tokens).')
  }
  const notes: string[] = []
  const id = (key: string): number | null => {
    const value = toNumber(metadata.get(key))
    // llama.cpp writes -1 (as u32 0xFFFFFFFF) for "none".
    return value !== null && Number.isInteger(value) && value >= 0 && value < tokens.length ? value : null
  }
  const bos = id('tokenizer.ggml.bos_token_id')
  const eos = id('tokenizer.ggml.eos_token_id')
  const endIds = [eos, id('tokenizer.ggml.eot_token_id'), id('tokenizer.ggml.eom_token_id')]
  const eosTokenIds = [...new Set(endIds.filter((i): i is number => i !== null))]
  const family = model === 'gpt2' ? preTokenizerFamily(metadata.get('tokenizer.ggml.pre'), notes) : null
  const vocab: Vocabulary = {
    tokens,
    types: tokenTypes(metadata.get('tokenizer.ggml.token_type'), tokens, model),
    bos,
    eos,
    unk: id('tokenizer.ggml.unknown_token_id'),
    pad: id('tokenizer.ggml.padding_token_id'),
    addBos: bos !== null && (toBoolean(metadata.get('tokenizer.ggml.add_bos_token')) ?? (family?.addBos ?? true)),
    addEos: eos !== null && (toBoolean(metadata.get('tokenizer.ggml.add_eos_token')) ?? false),
    addedTokens: [],
    notes,
  }
  // llama.cpp treats every end-of-generation token as a control token whatever its type says; HF
  // makes every named special token special.
  for (const i of [bos, ...eosTokenIds]) if (i !== null && vocab.types[i] === TokenType.NORMAL) vocab.types[i] = TokenType.CONTROL
  if (vocab.unk !== null && vocab.types[vocab.unk] === TokenType.NORMAL) vocab.types[vocab.unk] = TokenType.UNKNOWN
  vocab.addedTokens = addedTokens(vocab)

  const tokenizerJson = family === null ? llamaTokenizerJson(vocab, metadata) : gpt2TokenizerJson(vocab, metadata, family)
  const name = (i: number | null): string | null => (i === null ? null : (tokens[i] as string))
  const arch = metadata.get('general.architecture')
  const contextLength = typeof arch === 'string' ? toNumber(metadata.get(`${arch}.context_length`)) : null
  const chatTemplate = metadata.get('tokenizer.chat_template')
  const tokenizerConfig = {
    add_bos_token: vocab.addBos,
    add_eos_token: vocab.addEos,
    added_tokens_decoder: Object.fromEntries(vocab.addedTokens.map(({ id: i, ...t }) => [String(i), t])),
    bos_token: name(bos),
    eos_token: name(eos),
    pad_token: name(vocab.pad),
    unk_token: name(vocab.unk),
    chat_template:
      typeof chatTemplate === 'string'
        ? chatTemplate
        : `${vocab.addBos ? '{{ bos_token }}' : ''}{% for m in messages %}{{ m['content'] }}{% endfor %}`,
    // Decoding must give back the text exactly: no " ." -> "." clean-up.
    clean_up_tokenization_spaces: false,
    ...(family === null && { legacy: true }),
    ...(contextLength !== null && { model_max_length: contextLength }),
    tokenizer_class: family === null ? 'LlamaTokenizerFast' : 'PreTrainedTokenizerFast',
  }
  if (typeof chatTemplate !== 'string') notes.push('The GGUF has no chat template: a plain one that joins the messages was written.')
  return { tokenizerJson, tokenizerConfig, bosTokenId: bos, eosTokenIds, padTokenId: vocab.pad, notes }
}

function llamaTokenizerJson(vocab: Vocabulary, metadata: Map<string, GgufValue>): object {
  const { tokens, types, notes } = vocab
  const raw = metadata.get('tokenizer.ggml.scores')
  const hasScores = Array.isArray(raw) && raw.length === tokens.length
  if (!hasScores) notes.push('The GGUF has no token scores: merges are ranked by token id.')
  const scores = hasScores ? raw.map((score) => toNumber(score) ?? 0) : tokens.map((_, i) => -i)
  const missingBytes = 256 - tokens.filter((t, i) => types[i] === TokenType.BYTE && BYTE_TOKEN.test(t)).length
  if (missingBytes > 0) notes.push(`${missingBytes} of the 256 byte tokens are missing: those bytes encode as <unk>.`)
  if (toBoolean(metadata.get('tokenizer.ggml.remove_extra_whitespaces')) === true) {
    notes.push('The GGUF asks to collapse repeated whitespace; the tokenizer keeps it as written.')
  }
  const addSpacePrefix = toBoolean(metadata.get('tokenizer.ggml.add_space_prefix')) ?? true
  const toMetaspace = { type: 'Replace', pattern: { String: ' ' }, content: SPACE }
  return bpeTokenizerJson(vocab, scoreMerges(tokens, types, scores), {
    normalizer: addSpacePrefix
      ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPACE }, toMetaspace] }
      : toMetaspace,
    pre_tokenizer: null,
    post_processor: templateProcessing(vocab),
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
  })
}

/** tokenizer.json around a BPE model; SentencePiece vocabularies (no pre-tokenizer) fall back to bytes. */
function bpeTokenizerJson(vocab: Vocabulary, merges: [string, string][], parts: Record<string, object | null>, ignoreMerges = false): object {
  const spm = parts.pre_tokenizer === null
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: vocab.addedTokens,
    ...parts,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: vocab.unk === null ? null : vocab.tokens[vocab.unk],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: spm,
      byte_fallback: spm,
      ignore_merges: ignoreMerges,
      vocab: vocabObject(vocab),
      merges,
    },
  }
}

/**
 * SentencePiece BPE merges the adjacent pair whose joined piece scores highest; a BPE merge list
 * ranked by that score does the same. As transformers' SentencePieceExtractor: every split of a
 * piece into two vocabulary pieces, by the piece's score (highest first), then by the halves' ids.
 * Only normal pieces take part: SentencePiece never forms control, byte or user-defined pieces by
 * merging.
 */
function scoreMerges(tokens: string[], types: number[], scores: number[]): [string, string][] {
  const normal = new Map<string, number>()
  tokens.forEach((t, i) => {
    if (types[i] === TokenType.NORMAL && !normal.has(t)) normal.set(t, i)
  })
  const merges: { left: number; right: number; piece: number }[] = []
  for (const [piece, pieceId] of normal) {
    const chars = Array.from(piece)
    for (let cut = 1; cut < chars.length; cut++) {
      const left = normal.get(chars.slice(0, cut).join(''))
      const right = normal.get(chars.slice(cut).join(''))
      if (left !== undefined && right !== undefined) merges.push({ left, right, piece: pieceId })
    }
  }
  merges.sort(
    (a, b) =>
      (scores[b.piece] as number) - (scores[a.piece] as number) || a.piece - b.piece || a.left - b.left || a.right - b.right,
  )
  return merges.map(({ left, right }) => [tokens[left] as string, tokens[right] as string])
}

interface PreTokenizerFamily {
  preTokenizer: object
  normalizer: object | null
  ignoreMerges: boolean
  addBos: boolean
}

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }

/** A Split on the model's regex, then bytes to GPT-2's alphabet, as Llama 3's and Qwen2's tokenizer.json. */
function splitThenBytes(regex: string): object {
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false },
      { ...BYTE_LEVEL, use_regex: false },
    ],
  }
}

const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

const GPT2: PreTokenizerFamily = { preTokenizer: BYTE_LEVEL, normalizer: null, ignoreMerges: false, addBos: false }

/** llama.cpp's tokenizer.ggml.pre names (llama-vocab.cpp), grouped by the regex they stand for. */
const FAMILIES: [names: string[], family: PreTokenizerFamily][] = [
  [['default', 'gpt2', 'gpt-2', 'phi-2', 'mpt', 'olmo', 'jais', 'trillion', 'exaone4', 'mellum'], GPT2],
  [
    ['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2'],
    { preTokenizer: splitThenBytes(LLAMA3_REGEX), normalizer: null, ignoreMerges: true, addBos: true },
  ],
  [['dbrx', 'smaug-bpe'], { ...GPT2, preTokenizer: splitThenBytes(LLAMA3_REGEX) }],
  // Qwen2's tokenizer.json normalizes to NFC before splitting.
  [['qwen2', 'deepseek-r1-qwen', 'megrez'], { ...GPT2, preTokenizer: splitThenBytes(QWEN2_REGEX), normalizer: { type: 'NFC' } }],
  [['stablelm2'], { ...GPT2, preTokenizer: splitThenBytes(QWEN2_REGEX) }],
  // SmolLM's and StarCoder's: each digit alone, then GPT-2's split.
  [
    ['smollm', 'starcoder', 'refact', 'command-r', 'codeshell', 'exaone', 'minerva-7b'],
    { ...GPT2, preTokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, BYTE_LEVEL] } },
  ],
]

function preTokenizerFamily(pre: GgufValue | undefined, notes: string[]): PreTokenizerFamily {
  const found = FAMILIES.find(([names]) => typeof pre === 'string' && names.includes(pre))
  if (found) return found[1]
  const named = typeof pre === 'string' ? `Unknown pre-tokenizer '${pre}'` : 'The GGUF names no pre-tokenizer'
  notes.push(`${named}: GPT-2's split is used, so some text may tokenize differently.`)
  return GPT2
}

function gpt2TokenizerJson(vocab: Vocabulary, metadata: Map<string, GgufValue>, family: PreTokenizerFamily): object {
  const raw = metadata.get('tokenizer.ggml.merges')
  if (!Array.isArray(raw)) throw new AppError('MODEL_INVALID', 'The GGUF has a gpt2 tokenizer without merges (tokenizer.ggml.merges).')
  const merges = raw.map((m): [string, string] => {
    // Byte-level tokens hold no raw space, so the first space after the first character splits.
    const at = typeof m === 'string' ? m.indexOf(' ', 1) : -1
    if (typeof m !== 'string' || at < 0) throw new AppError('MODEL_INVALID', `The GGUF has a malformed merge: ${String(m)}`)
    return [m.slice(0, at), m.slice(at + 1)]
  })
  const parts = {
    normalizer: family.normalizer,
    pre_tokenizer: family.preTokenizer,
    post_processor: templateProcessing(vocab) ?? { ...BYTE_LEVEL, trim_offsets: false },
    decoder: BYTE_LEVEL,
  }
  return bpeTokenizerJson(vocab, merges, parts, family.ignoreMerges)
}

/** What encode with special tokens adds around the text: BOS and EOS as the GGUF asks. */
function templateProcessing(vocab: Vocabulary): object | null {
  const ends = [vocab.addBos ? vocab.bos : null, vocab.addEos ? vocab.eos : null]
  if (ends.every((i) => i === null)) return null
  const special = (i: number | null, typeId: number) =>
    i === null ? [] : [{ SpecialToken: { id: vocab.tokens[i] as string, type_id: typeId } }]
  const sequence = (id: 'A' | 'B', typeId: number) => [
    ...special(ends[0] ?? null, typeId),
    { Sequence: { id, type_id: typeId } },
    ...special(ends[1] ?? null, typeId),
  ]
  const used = ends.filter((i): i is number => i !== null)
  return {
    type: 'TemplateProcessing',
    single: sequence('A', 0),
    pair: [...sequence('A', 0), ...sequence('B', 1)],
    special_tokens: Object.fromEntries(
      used.map((i) => [vocab.tokens[i], { id: vocab.tokens[i], ids: [i], tokens: [vocab.tokens[i]] }]),
    ),
  }
}

/** Control and unknown tokens are special; user-defined ones are matched whole but are text. */
function addedTokens(vocab: Vocabulary): AddedToken[] {
  const out: AddedToken[] = []
  vocab.types.forEach((type, id) => {
    if (type !== TokenType.CONTROL && type !== TokenType.UNKNOWN && type !== TokenType.USER_DEFINED) return
    const content = vocab.tokens[id] as string
    if (content === '') return
    const special = type !== TokenType.USER_DEFINED
    out.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special })
  })
  return out
}

/** token -> id; a token string that repeats keeps its first id. */
function vocabObject(vocab: Vocabulary): Record<string, number> {
  const out = new Map<string, number>()
  vocab.tokens.forEach((t, i) => {
    if (!out.has(t)) out.set(t, i)
  })
  const repeats = vocab.tokens.length - out.size
  if (repeats > 0) vocab.notes.push(`${repeats} token strings repeat in the vocabulary: only their first ids encode.`)
  return Object.fromEntries(out)
}

/** tokenizer.ggml.token_type, or for files without it: byte tokens, else normal. */
function tokenTypes(value: GgufValue | undefined, tokens: string[], model: string): number[] {
  if (Array.isArray(value) && value.length === tokens.length) return value.map((t) => toNumber(t) ?? TokenType.NORMAL)
  return tokens.map((t) => (model === 'llama' && BYTE_TOKEN.test(t) ? TokenType.BYTE : TokenType.NORMAL))
}

function isStringArray(value: GgufValue | undefined): value is string[] {
  return Array.isArray(value) && value.every((t) => typeof t === 'string')
}

function toNumber(value: GgufValue | undefined): number | null {
  if (typeof value === 'number') return value
  if (typeof value === 'bigint') return Number(value)
  return null
}

function toBoolean(value: GgufValue | undefined): boolean | null {
  return typeof value === 'boolean' ? value : null
}
