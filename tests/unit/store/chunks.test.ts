import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_CHUNK_CHARS, MIN_CHUNK_CHARS, splitChunks, type Span } from '../../../src-main/store/chunks.ts'

/** mulberry32: the same texts on every run. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Words, sentences, lines and paragraphs in random measure, now and then a word longer than a chunk. */
function randomText(next: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!
  const words = ['a', 'the', 'model', 'é', 'naïve', 'C++', '😀', 'lorem', 'ipsum', 'dolor', 'x', 'Übermaß', '1,200']
  const separators = [' ', ' ', ' ', ' ', '. ', '? ', '." ', '\n', '\n\n', '\n \n\t', '  ', '\u00a0']
  let text = pick(['', ' ', '\n\n'])
  const length = Math.floor(next() * 6000)
  while (text.length < length) {
    text += next() < 0.002 ? '😀'.repeat(MAX_CHUNK_CHARS) : pick(words)
    text += pick(separators)
  }
  return text
}

const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c)

/** What every split must hold, whatever the text. */
function assertCovers(text: string, chunks: Span[]): void {
  let at = 0
  for (const { start, end } of chunks) {
    assert.ok(start >= at && end > start, `chunk [${start}, ${end}) after ${at}`)
    assert.ok(end - start <= MAX_CHUNK_CHARS, `chunk of ${end - start}`)
    assert.match(text.slice(at, start), /^\s*$/, 'only whitespace between chunks')
    assert.ok(!isSpace(text[start]) && !isSpace(text[end - 1]), 'a chunk starts and ends with text')
    const hardCut = end - start >= MAX_CHUNK_CHARS - 1 && !/\s/.test(text.slice(start, end))
    if (!hardCut && end < text.length) assert.ok(isSpace(text[end]), `cut inside a word at ${end}`)
    at = end
  }
  assert.match(text.slice(at), /^\s*$/, 'only whitespace after the last chunk')
}

describe('splitChunks', () => {
  it('gives an empty or blank text no chunks', () => {
    assert.deepEqual(splitChunks(''), [])
    assert.deepEqual(splitChunks(' \n\n\t '), [])
  })

  it('keeps a short text whole, without the whitespace around it', () => {
    assert.deepEqual(splitChunks('\n  Short note.\n'), [{ start: 3, end: 14 }])
  })

  it('covers random texts in order, with only whitespace between chunks and no word cut short', () => {
    const next = random(18)
    for (let i = 0; i < 300; i++) {
      const text = randomText(next)
      assertCovers(text, splitChunks(text))
    }
  })

  it('cuts at a paragraph break rather than a line, and at a line rather than a sentence', () => {
    const sentence = 'This sentence runs on for a while. '
    const filler = (n: number) => sentence.repeat(Math.ceil(n / sentence.length)).slice(0, n).trim()
    const text = `${filler(900)}\n\n${filler(200)}\n${filler(200)}. ${filler(1000)}`
    assert.equal(splitChunks(text)[0]?.end, filler(900).length)

    const lines = `${filler(900)}\n${filler(300)}. ${filler(1000)}`
    assert.equal(splitChunks(lines)[0]?.end, filler(900).length)

    const [first] = splitChunks(filler(3000))
    assert.ok(first !== undefined && first.end >= MIN_CHUNK_CHARS && first.end <= MAX_CHUNK_CHARS)
    assert.equal(filler(3000)[first.end - 1], '.')
  })

  it('cuts a word longer than a chunk, but never between the halves of a character', () => {
    // The 'x' puts every high surrogate at an odd index, so a cut MAX_CHUNK_CHARS on lands inside a pair.
    const text = `x${'😀'.repeat(MAX_CHUNK_CHARS)}`
    const chunks = splitChunks(text)
    assert.equal(chunks.length, 3)
    assert.equal(chunks[0]?.end, MAX_CHUNK_CHARS - 1)
    for (const { start, end } of chunks) assert.doesNotMatch(text.slice(start, end), /\p{Cs}/u, `[${start}, ${end}) splits a character`)
    assert.equal(chunks.at(-1)?.end, text.length)
  })
})
