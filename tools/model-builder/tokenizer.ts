// Writes the tokenizer side of a test model: a byte-level BPE tokenizer.json (as GPT-2, SmolLM2,
// Qwen2) and a tokenizer_config.json with a ChatML chat template, for any vocab size from 259 up.
//
// Token ids: 0 <|endoftext|>, 1 <|im_start|>, 2 <|im_end|> (the SmolLM2 layout), then the 256
// byte tokens, then merges. vocabSize counts every id, so it equals config.json's vocab_size.
// The first merges are learned from a small built-in English corpus, so ordinary text encodes to
// a realistic number of tokens; the rest are synthesised from a seeded PRNG to reach the size.

import { byteLevelAlphabet } from '../../src-main/engine/tokenizer.ts'
import { createRng } from '../../src-main/engine/sampler.ts'

export interface SpecialTokenIds {
  /** <|endoftext|> */
  endOfText: number
  /** bos_token: <|im_start|>, as SmolLM2 declares it. */
  bos: number
  /** eos_token: <|im_end|>, which also ends every ChatML turn. */
  eos: number
  imStart: number
  imEnd: number
  /** pad_token: <|im_end|>. */
  pad: number
}

export interface TokenizerFiles {
  /** Contents of tokenizer.json. */
  tokenizerJson: object
  /** Contents of tokenizer_config.json. */
  tokenizerConfig: object
  specialTokens: SpecialTokenIds
}

export interface TokenizerBuildOptions {
  /** Total ids, specials included; at least 259 (3 specials + 256 bytes). */
  vocabSize: number
  seed?: number
}

const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const
const MIN_VOCAB = SPECIALS.length + 256
/** Synthesised tokens stay short, as real vocabularies' tokens do. */
const MAX_SYNTH_CHARS = 12

/** SmolLM2-Instruct's template, with a neutral default system prompt. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}" +
  "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

const CORPUS = `You are a helpful assistant. The user asks a question and the assistant answers it
clearly, in a few sentences, with examples where they help. What is the capital of France?
The capital of France is Paris. How many legs does a spider have? A spider has eight legs.
Write a short poem about the sea: the sea is wide and the sea is deep, the waves are singing
the world to sleep. Explain how a computer stores numbers: a computer stores numbers in binary,
as patterns of bits, each bit a zero or a one. Large language models predict the next token
from the tokens before it; they read the prompt, then write one token at a time. Thank you for
your help! You're welcome. I'm happy to help with anything else you would like to know.
function add(a, b) { return a + b; } const list = [1, 2, 3]; for (let i = 0; i < 10; i++) {}
The quick brown fox jumps over the lazy dog. Hello, world! This is a test of the tokenizer.`

// GPT-2's pre-tokenizer split: contractions, letter runs, digit runs, punctuation, whitespace.
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu

export function buildTokenizerFiles(opts: TokenizerBuildOptions): TokenizerFiles {
  const { vocabSize, seed = 0 } = opts
  if (!Number.isInteger(vocabSize) || vocabSize < MIN_VOCAB) {
    throw new Error(`vocabSize must be an integer of at least ${MIN_VOCAB}, got ${vocabSize}`)
  }
  const alphabet = byteLevelAlphabet()
  const vocab = new Map<string, number>()
  SPECIALS.forEach((s, id) => vocab.set(s, id))
  for (const ch of alphabet) vocab.set(ch, vocab.size)

  const merges: [string, string][] = []
  const add = (a: string, b: string): void => {
    merges.push([a, b])
    vocab.set(a + b, vocab.size)
  }
  learnMerges(vocabSize - vocab.size, alphabet, add)
  synthesiseMerges(vocabSize - vocab.size, seed, vocab, add)

  const addedTokens = SPECIALS.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }))
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true }
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', ...byteLevel },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  }
  const tokenizerConfig = {
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...t }) => [String(id), t])),
    additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
    bos_token: '<|im_start|>',
    chat_template: CHATML_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    model_max_length: 8192,
    pad_token: '<|im_end|>',
    tokenizer_class: 'GPT2Tokenizer',
    unk_token: '<|endoftext|>',
    vocab_size: vocabSize,
  }
  return {
    tokenizerJson,
    tokenizerConfig,
    specialTokens: { endOfText: 0, bos: 1, eos: 2, imStart: 1, imEnd: 2, pad: 2 },
  }
}

/** Classic BPE training on CORPUS: merge the most frequent adjacent pair until none repeats. */
function learnMerges(budget: number, alphabet: string[], add: (a: string, b: string) => void): void {
  const encoder = new TextEncoder()
  const counts = new Map<string, number>()
  for (const word of CORPUS.match(GPT2_SPLIT) ?? []) {
    const chars = Array.from(encoder.encode(word), (b) => alphabet[b] as string).join('\u0000')
    counts.set(chars, (counts.get(chars) ?? 0) + 1)
  }
  const words = [...counts].map(([w, n]) => ({ symbols: w.split('\u0000'), n }))
  for (let made = 0; made < budget; made++) {
    const pairs = new Map<string, number>()
    for (const { symbols, n } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]}\u0000${symbols[i + 1]}`
        pairs.set(key, (pairs.get(key) ?? 0) + n)
      }
    }
    let best = ''
    let bestCount = 1
    for (const [key, n] of pairs) {
      if (n > bestCount || (n === bestCount && best !== '' && key < best)) {
        best = key
        bestCount = n
      }
    }
    if (best === '') return
    const [a, b] = best.split('\u0000') as [string, string]
    add(a, b)
    for (const word of words) {
      const out: string[] = []
      const s = word.symbols
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(a + b)
          i++
        } else out.push(s[i] as string)
      }
      word.symbols = out
    }
  }
}

/** Random merges of existing tokens; they rarely fire on real text but give the vocab its size. */
function synthesiseMerges(
  budget: number,
  seed: number,
  vocab: Map<string, number>,
  add: (a: string, b: string) => void,
): void {
  const rng = createRng(seed)
  const pool = [...vocab.keys()].filter((t) => !SPECIALS.includes(t as (typeof SPECIALS)[number]))
  const alphabet = byteLevelAlphabet()
  let made = 0
  while (made < budget) {
    // Growing a token by one byte keeps lengths near log(vocab), like a trie of real words.
    const a = pool[Math.floor(rng.next() * pool.length)] as string
    const b = alphabet[Math.floor(rng.next() * 256)] as string
    const token = a + b
    if (token.length > MAX_SYNTH_CHARS || vocab.has(token)) continue
    add(a, b)
    pool.push(token)
    made++
  }
}
