// ggufTokenizer checked through the engine's own loader: the real stories260K vocabulary (llama
// SentencePiece, read by the GGUF reader) against llama2.c's greedy encoder, and builder byte-level
// vocabularies (gpt2) written as GGUF metadata and parsed back, against the tokenizer.json they
// came from.

import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AppError } from '../../../../src-shared/errors.ts'
import { createRng } from '../../../../src-main/engine/sampler.ts'
import { TextStream } from '../../../../src-main/engine/text-stream.ts'
import { loadTokenizer, type ChatTokenizer } from '../../../../src-main/engine/tokenizer.ts'
import type { GgufValue } from '../../../../src-main/models/gguf/gguf-types.ts'
import { readGgufHeader } from '../../../../src-main/models/gguf/reader.ts'
import { ggufTokenizer, type GgufTokenizer } from '../../../../src-main/models/gguf/tokenizer.ts'
import { writeGguf, type GgufMetadata } from '../../../../tools/bench/gguf.ts'
import { tokenizerMetadata } from '../../../../tools/bench/llama-gguf.ts'
import { buildTokenizerFiles, type TokenizerFiles } from '../../../../tools/model-builder/tokenizer.ts'
import { STORIES_GGUF as STORIES, STORIES_REFERENCE, storiesMissing } from '../../../../tools/stories-fixture.ts'

const SENTENCE = 'Once upon a time, there was a little girl named Lily.'
const REFERENCE = STORIES_REFERENCE

let dir: string
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hearth-gguf-tokenizer-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Names the temp folders and files apart. */
let made = 0
/** Writes the converter's files to a fresh model folder and loads them as the engine does. */
async function load(files: { tokenizerJson: object; tokenizerConfig: object }): Promise<ChatTokenizer> {
  const modelDir = path.join(dir, String(made++))
  await mkdir(modelDir)
  await writeFile(path.join(modelDir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson))
  await writeFile(path.join(modelDir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig))
  return loadTokenizer(modelDir)
}

/** Metadata as a GGUF file carries it: written by the bench's writer, read back by the app's reader. */
async function throughGguf(metadata: GgufMetadata): Promise<Map<string, GgufValue>> {
  const file = path.join(dir, `${made++}.gguf`)
  await writeGguf(file, metadata, [])
  return (await readGgufHeader(file)).metadata
}

/**
 * llama2.c's encode (run.c): a dummy-prefix space, each code point looked up or else written as
 * its UTF-8 bytes, then merge the adjacent pair whose joined piece scores highest (leftmost on a
 * tie) until none is in the vocabulary.
 */
function greedyEncode(text: string, tokens: string[], scores: number[]): number[] {
  const ids = new Map<string, number>()
  tokens.forEach((t, i) => ids.has(t) || ids.set(t, i))
  const symbols: number[] = []
  for (const ch of `\u2581${text.replaceAll(' ', '\u2581')}`) {
    const id = ids.get(ch)
    if (id !== undefined) symbols.push(id)
    else for (const b of new TextEncoder().encode(ch)) symbols.push(ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)!)
  }
  for (;;) {
    let best = -Infinity
    let at = -1
    let merged = -1
    for (let i = 0; i + 1 < symbols.length; i++) {
      const id = ids.get(tokens[symbols[i]!]! + tokens[symbols[i + 1]!]!)
      if (id !== undefined && scores[id]! > best) [best, at, merged] = [scores[id]!, i, id]
    }
    if (at < 0) return symbols
    symbols.splice(at, 2, merged)
  }
}

function randomText(rng: { next(): number }, pool: string[], length: number): string {
  return Array.from({ length }, () => pool[Math.floor(rng.next() * pool.length)]).join('')
}

/** Each test is skipped, with the reason, on a checkout without the fixture beside it (a fresh clone elsewhere). */
const skip = storiesMissing() ?? false

describe('ggufTokenizer with the stories260K llama vocabulary', () => {
  let metadata: Map<string, GgufValue>
  let tokens: string[]
  let scores: number[]
  let converted: GgufTokenizer
  let tok: ChatTokenizer
  before(async () => {
    if (skip) return
    metadata = (await readGgufHeader(STORIES)).metadata
    tokens = metadata.get('tokenizer.ggml.tokens') as string[]
    scores = metadata.get('tokenizer.ggml.scores') as number[]
    converted = ggufTokenizer(metadata)
    tok = await load(converted)
  })

  it('encodes the reference sentence to the pieces llama2.c picks, and decodes it back', { skip }, () => {
    const ids = tok.encode(SENTENCE)
    // ▁Once ▁upon ▁a ▁time , ▁there ▁was ▁a ▁little | ▁g ir l: "girl" is no piece | ▁named ▁Lily .
    assert.deepEqual(ids, [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426])
    assert.equal(tok.decode(ids), SENTENCE)
    assert.equal(tok.decode(tok.encode(REFERENCE)), REFERENCE)
  })

  it('matches llama2.c greedy encoding on stories and on random text, and round-trips all of it', { skip }, () => {
    const rng = createRng(7)
    const words = REFERENCE.split(' ')
    const pool = [...'abcdefghijklmnopqrstuvwxyzTLS.,!?"\'-éñ日本😀\u00a0', ' ', ' ', '  ', '\n', '\t', 'the', '▁', 'Lily']
    const texts = [SENTENCE, REFERENCE, 'Hello\nworld', ' two  spaces ', 'é 日本 😀', '']
    for (let i = 0; i < 200; i++) texts.push(randomText(rng, words.map((w) => `${w} `), 1 + (i % 12)))
    for (let i = 0; i < 300; i++) texts.push(randomText(rng, pool, 1 + (i % 40)))
    for (const text of texts) {
      const ids = tok.encode(text)
      if (text !== '') assert.deepEqual(ids, greedyEncode(text, tokens, scores), JSON.stringify(text))
      // A literal U+2581 in the text decodes as a space, as in every SentencePiece tokenizer.
      assert.equal(ids.length === 0 ? '' : tok.decode(ids), text.replaceAll('\u2581', ' '), JSON.stringify(text))
    }
  })

  it('falls back to bytes for a newline and for characters the vocabulary lacks', { skip }, () => {
    const ids = tok.encode('a\n日😀')
    assert.deepEqual(ids.slice(0, 2), [261, 3 + 0x0a]) // ▁a, <0x0A>
    assert.deepEqual(ids.slice(2), [...new TextEncoder().encode('日😀')].map((b) => 3 + b))
    assert.equal(tok.decode(ids), 'a\n日😀')
  })

  it('decodes and streams without a leading-space artefact, from <s> or mid-sentence', { skip }, () => {
    const ids = tok.encode(SENTENCE)
    assert.equal(tok.decode([1, ...ids]), SENTENCE)
    assert.equal(tok.decode(ids.slice(1)), 'upon a time, there was a little girl named Lily.')
    const stream = new TextStream(tok)
    const streamed = ids.map((id) => stream.push(id)).join('') + stream.flush()
    assert.equal(streamed, SENTENCE)
  })

  it('names <s>, </s> and <unk> as special tokens, and writes BOS once through the plain template', { skip }, () => {
    assert.equal(converted.bosTokenId, 1)
    assert.deepEqual(converted.eosTokenIds, [2])
    assert.equal(converted.padTokenId, null) // the file says 0xFFFFFFFF
    assert.equal(tok.bosId, 1)
    assert.ok(tok.eosIds.has(2))
    assert.ok(tok.isSpecial(0) && tok.isSpecial(1) && tok.isSpecial(2) && !tok.isSpecial(3))
    assert.deepEqual(tok.encode('Once', { addSpecialTokens: true }), [1, 403])
    const prompt = tok.encodeChat([{ role: 'user', content: 'Once upon' }], { addGenerationPrompt: true })
    assert.deepEqual(prompt, [1, 403, 407])
    assert.equal((converted.tokenizerConfig as { model_max_length?: number }).model_max_length, 2048)
  })

  it('matches a user-defined piece whole, as text rather than a special token', { skip }, async () => {
    const withTool = new Map(metadata)
    const append = (key: string, value: GgufValue) => withTool.set(key, [...(metadata.get(key) as GgufValue[]), value])
    append('tokenizer.ggml.tokens', '<tool>')
    append('tokenizer.ggml.scores', 0)
    append('tokenizer.ggml.token_type', 4)
    const tool = await load(ggufTokenizer(withTool))
    const ids = tool.encode('a<tool>b')
    // As llama.cpp and legacy Llama tokenizers do, the text after a matched piece gets its own '▁'.
    assert.deepEqual(ids, [261, 512, 268])
    assert.equal(tool.isSpecial(512), false)
    assert.equal(tool.decode(ids), 'a<tool> b')
  })
})

/** A builder tokenizer's vocabulary and specials as writeLlamaGguf puts them in a GGUF. */
function builderMetadata(files: TokenizerFiles, vocabSize: number, pre: string): GgufMetadata {
  const s = files.specialTokens
  return [
    ...tokenizerMetadata(files.tokenizerJson as Parameters<typeof tokenizerMetadata>[0], vocabSize, pre),
    ['tokenizer.ggml.bos_token_id', { kind: 'uint32', value: s.bos }],
    ['tokenizer.ggml.eos_token_id', { kind: 'uint32', value: s.eos }],
    ['tokenizer.ggml.padding_token_id', { kind: 'uint32', value: s.pad }],
    ['tokenizer.chat_template', { kind: 'string', value: (files.tokenizerConfig as { chat_template: string }).chat_template }],
  ]
}

/**
 * Adds merges that make the split show in the ids: digits join up to "12345", and " xyzzy" is a
 * token that no merge reaches.
 */
function withSplitProbes(files: TokenizerFiles): { files: TokenizerFiles; vocabSize: number; vocab: Record<string, number> } {
  const json = structuredClone(files.tokenizerJson) as { model: { vocab: Record<string, number>; merges: [string, string][] } }
  const vocab = json.model.vocab
  const add = (token: string): void => {
    assert.equal(vocab[token], undefined, `the builder vocabulary already holds ${token}`)
    vocab[token] = Object.keys(vocab).length
  }
  for (const [a, b] of [['1', '2'], ['12', '3'], ['123', '4'], ['1234', '5'], ['4', '5']] as const) {
    json.model.merges.push([a, b])
    add(a + b)
  }
  add('\u0120xyzzy')
  return { files: { ...files, tokenizerJson: json }, vocabSize: Object.keys(vocab).length, vocab }
}

const MIXED = [
  'Hello, world! The quick brown fox jumps over the lazy dog.',
  "I'm sure you're right; they'll say it's DONE, isn't it?",
  'function add(a, b) {\n\treturn a + b; // 12345 + 0.5\n}\r\n\n    indented',
  'Ünïcödé: café, naïve, 日本語のテキスト, Ελληνικά, русский, 한국어 🎉👍🏽 \u00a0nbsp',
  '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|><|endoftext|>',
  '   leading and trailing spaces   ',
]

describe('ggufTokenizer with byte-level gpt2 vocabularies', () => {
  for (const vocabSize of [49152, 151936]) {
    it(`encodes mixed text to the same ids as the original tokenizer.json at vocab ${vocabSize}`, async () => {
      const files = buildTokenizerFiles({ vocabSize, seed: 3 })
      const converted = ggufTokenizer(await throughGguf(builderMetadata(files, vocabSize, 'gpt2')))
      assert.deepEqual(converted.notes, [])
      const [original, tok] = await Promise.all([load(files), load(converted)])
      assert.equal(tok.vocabSize, vocabSize)
      // This file's own source adds a few thousand tokens of code, comments and unicode.
      for (const text of [...MIXED, await readFile(import.meta.filename, 'utf8')]) {
        const ids = tok.encode(text)
        assert.deepEqual(ids, original.encode(text), text)
        assert.equal(tok.decode(ids, { skipSpecialTokens: false }), text)
      }
      assert.deepEqual([...tok.eosIds], [...original.eosIds])
      assert.equal(tok.bosId, original.bosId)
      assert.ok(tok.isSpecial(1) && tok.isSpecial(2) && !tok.isSpecial(100))
      const chat = [{ role: 'user' as const, content: MIXED[3]! }]
      assert.deepEqual(tok.encodeChat(chat, { addGenerationPrompt: true }), original.encodeChat(chat, { addGenerationPrompt: true }))
    })
  }

  // The pre-tokenizers (and Llama 3's ignore_merges) as those models' tokenizer.json carry them,
  // put on the builder vocabulary.
  const bytes = { type: 'ByteLevel', add_prefix_space: false, use_regex: false }
  const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false })
  const qwen2 = {
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        split("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
        { ...bytes, trim_offsets: false },
      ],
    },
  }
  const llama3 = {
    ignore_merges: true,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        split("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
        { ...bytes, trim_offsets: true },
      ],
    },
  }
  const smollm = {
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Digits', individual_digits: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
  }
  const cases: [pre: string, form: object, digits: string[]][] = [
    ['gpt2', {}, ['12345']],
    ['qwen2', qwen2, ['1', '2', '3', '4', '5']],
    ['llama-bpe', llama3, ['123', '45']],
    ['smollm', smollm, ['1', '2', '3', '4', '5']],
  ]
  for (const [pre, form, digits] of cases) {
    it(`splits as the ${pre} tokenizer.json does: 12345 as ${digits.join('|')}`, async () => {
      const { files, vocabSize, vocab } = withSplitProbes(buildTokenizerFiles({ vocabSize: 4096, seed: 5 }))
      const { ignore_merges = false, ...top } = form as { ignore_merges?: boolean }
      const json = files.tokenizerJson as { model: object }
      const model = { ...files, tokenizerJson: { ...json, ...top, model: { ...json.model, ignore_merges } } }
      const converted = ggufTokenizer(await throughGguf(builderMetadata(files, vocabSize, pre)))
      assert.deepEqual(converted.notes, [])
      const [original, tok] = await Promise.all([load(model), load(converted)])
      for (const text of [...MIXED, "DON'T 12345 x\r\n\r\n  y xyzzy"]) assert.deepEqual(tok.encode(text), original.encode(text), text)
      assert.deepEqual(tok.encode('12345'), digits.map((d) => vocab[d]))
      // Llama 3 takes a word the vocabulary holds whole, even where no merge reaches it.
      const xyzzy = tok.encode(' xyzzy')
      if (pre === 'llama-bpe') assert.deepEqual(xyzzy, [vocab['\u0120xyzzy']])
      else assert.ok(xyzzy.length > 1)
    })
  }

  it('uses GPT-2 split for an unknown pre-tokenizer and says so', async () => {
    const files = buildTokenizerFiles({ vocabSize: 1024 })
    const converted = ggufTokenizer(await throughGguf(builderMetadata(files, 1024, 'mystery-9')))
    assert.match(converted.notes.join('\n'), /Unknown pre-tokenizer 'mystery-9'.*GPT-2/)
    const [original, tok] = await Promise.all([load(files), load(converted)])
    for (const text of MIXED) assert.deepEqual(tok.encode(text), original.encode(text))
  })

  it('stops on eot and eom ids too, and takes the chat template from the GGUF', async () => {
    const files = buildTokenizerFiles({ vocabSize: 512 })
    const converted = ggufTokenizer(
      await throughGguf([
        ...builderMetadata(files, 512, 'gpt2'),
        ['tokenizer.ggml.eot_token_id', { kind: 'uint32', value: 0 }],
        ['tokenizer.ggml.eom_token_id', { kind: 'uint32', value: 2 }],
      ]),
    )
    assert.deepEqual(converted.eosTokenIds, [2, 0])
    assert.equal(converted.padTokenId, 2)
    const config = converted.tokenizerConfig as Record<string, unknown>
    assert.equal(config.chat_template, (files.tokenizerConfig as Record<string, unknown>).chat_template)
    assert.equal(config.eos_token, '<|im_end|>')
    assert.equal(config.add_bos_token, false)
  })
})

describe('ggufTokenizer refusals', () => {
  it('refuses a tokenizer model it cannot build, by name', () => {
    const metadata = new Map<string, GgufValue>([
      ['tokenizer.ggml.model', 'bert'],
      ['tokenizer.ggml.tokens', ['[PAD]', '[UNK]']],
    ])
    assert.throws(
      () => ggufTokenizer(metadata),
      (err: unknown) => err instanceof AppError && err.code === 'MODEL_UNSUPPORTED' && /'bert'/.test(err.message),
    )
  })

  it('says when the file has no tokenizer at all', () => {
    assert.throws(
      () => ggufTokenizer(new Map([['general.architecture', 'llama']])),
      (err: unknown) => err instanceof AppError && err.code === 'MODEL_INVALID' && /tokenizer\.ggml\.model/.test(err.message),
    )
  })
})
