import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createRng } from '../../../src-main/engine/sampler.ts'
import { TextStream } from '../../../src-main/engine/text-stream.ts'
import { createChatTokenizer } from '../../../src-main/engine/tokenizer.ts'
import { chatmlSources, phiSources } from './fixtures.ts'

const chatml = createChatTokenizer(chatmlSources(2000))
const phi = createChatTokenizer(phiSources())
/** The builder's layout: byte b is token 3 + b, so any byte sequence can be fed one per token. */
const byteToken = (b: number): number => 3 + b

const SAMPLES = {
  cjk: '日本語のテキスト、中文字符',
  zwjFamily: 'family: 👨‍👩‍👧‍👦 ok',
  skinTones: '👍🏽👋🏿 hi',
  flags: '🇯🇵🇺🇸🇫🇷',
  combining: 'cafe\u0301 n\u0303 a\u0308\u0323',
  keycap: '1\uFE0F\u20E3 #\uFE0F\u20E3',
  mixed: 'Hello, world! 😀 你好 e\u0301 🏳️‍🌈 done.',
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function graphemeBoundaries(text: string): Set<number> {
  const cuts = new Set<number>([text.length])
  for (const { index } of new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(text)) cuts.add(index)
  return cuts
}

/** Streams ids and returns each push's chunk and the flush. */
function stream(tokens: ConstructorParameters<typeof TextStream>[0], ids: number[]): { chunks: string[]; tail: string } {
  const s = new TextStream(tokens)
  const chunks = ids.map((id) => s.push(id))
  return { chunks, tail: s.flush() }
}

/** Every chunk ends on a grapheme boundary of the whole text and holds no broken character. */
function assertWholeCharacters(text: string, chunks: string[]): void {
  const cuts = graphemeBoundaries(text)
  let at = 0
  for (const chunk of chunks) {
    assert.ok(!chunk.includes('\uFFFD'), `chunk ${JSON.stringify(chunk)} has a replacement character`)
    assert.ok(!LONE_SURROGATE.test(chunk), `chunk ${JSON.stringify(chunk)} has a lone surrogate`)
    at += chunk.length
    assert.ok(cuts.has(at), `a chunk ends inside a character at ${at} of ${JSON.stringify(text)}`)
  }
}

describe('TextStream#push', () => {
  it('emits only whole characters when every byte is its own token', () => {
    for (const text of Object.values(SAMPLES)) {
      const { chunks, tail } = stream(chatml, [...new TextEncoder().encode(text)].map(byteToken))
      assert.equal(chunks.join('') + tail, text)
      assertWholeCharacters(text, chunks)
    }
  })

  it('holds a base character until the next token shows no modifier, ZWJ or mark follows', () => {
    const bytes = (s: string): number[] => [...new TextEncoder().encode(s)].map(byteToken)
    const s = new TextStream(chatml)
    const thumbs = bytes('👍').map((id) => s.push(id))
    assert.deepEqual(thumbs, ['', '', '', ''])
    assert.deepEqual(bytes('🏽').map((id) => s.push(id)), ['', '', '', ''])
    assert.equal(s.push(byteToken(0x20)), '👍🏽')
    const e = s.push(byteToken(0x65))
    assert.equal(e, ' ')
    assert.deepEqual(bytes('\u0301').map((id) => s.push(id)), ['', ''])
    assert.equal(s.push(byteToken(0x21)), 'e\u0301')
    assert.equal(s.flush(), '!')
  })

  it('matches decode() with the tokenizer\'s own tokens, chunked at grapheme boundaries', () => {
    for (const text of Object.values(SAMPLES)) {
      const ids = chatml.encode(text)
      const { chunks, tail } = stream(chatml, ids)
      assert.equal(chunks.join('') + tail, chatml.decode(ids))
      assertWholeCharacters(text, chunks)
    }
  })

  it('matches decode() on random byte-level token sequences, broken bytes included', () => {
    const rng = createRng(17)
    for (let round = 0; round < 50; round++) {
      const ids = Array.from({ length: 40 }, () => 3 + Math.floor(rng.next() * (chatml.vocabSize - 3)))
      const { chunks, tail } = stream(chatml, ids)
      assert.equal(chunks.join('') + tail, chatml.decode(ids))
    }
  })

  it('drops special tokens and keeps the text around them', () => {
    const ids = [...chatml.encode('Hi'), 2, ...chatml.encode(' there'), 1]
    const { chunks, tail } = stream(chatml, ids)
    assert.equal(chunks.join('') + tail, 'Hi there')
  })

  it('turns a stray continuation byte into U+FFFD instead of holding it forever', () => {
    const s = new TextStream(chatml)
    const out = [0x41, 0x80, 0x42, 0x43].map((b) => s.push(byteToken(b))).join('')
    assert.equal(out, 'A\uFFFDB')
    assert.equal(s.flush(), 'C')
  })
})

describe('TextStream#flush', () => {
  it('returns the held character and ends an incomplete sequence as U+FFFD', () => {
    const s = new TextStream(chatml)
    const bytes = [...new TextEncoder().encode('a😀')]
    const out = bytes.slice(0, 3).map((b) => s.push(byteToken(b))).join('')
    assert.equal(out, '')
    assert.equal(s.flush(), 'a\uFFFD')
  })
})

describe('TextStream with a SentencePiece tokenizer', () => {
  it('assembles <0xAB> byte tokens into characters and drops the leading space once', () => {
    const text = 'Hello the world 日本語 👍🏽 e\u0301!'
    const ids = phi.encode(text)
    const { chunks, tail } = stream(phi, ids)
    assert.equal(chunks.join('') + tail, phi.decode(ids))
    assert.equal(chunks.join('') + tail, text)
    assertWholeCharacters(text, chunks)
  })
})
