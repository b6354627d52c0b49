// The incremental detokenizer on any token sequence: the chunks add up to the decode of all the
// bytes, a character split across tokens never comes out as U+FFFD, and no chunk ends inside a
// grapheme cluster of the final text.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { TextStream, type TokenBytes } from '../../../src-main/engine/text-stream.ts'
import { runs } from './settings.ts'

/** A vocabulary where token i stands for pieces[i]; an empty piece is a special token. */
function vocabulary(pieces: Uint8Array[], stripsLeadingSpace: boolean): TokenBytes {
  return { tokenBytes: (id) => pieces[id]!, stripsLeadingSpace }
}

/** The chunks the stream gives for the tokens 0..n-1, the last one from flush. */
function stream(pieces: Uint8Array[], stripsLeadingSpace = false): string[] {
  const text = new TextStream(vocabulary(pieces, stripsLeadingSpace))
  return [...pieces.map((_, id) => text.push(id)), text.flush()]
}

function decode(pieces: Uint8Array[]): string {
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(Buffer.concat(pieces))
}

/** Bytes cut into tokens at the given points, with special (empty) tokens where asked. */
function cut(bytes: Uint8Array, points: number[], specials: number[]): Uint8Array[] {
  const at = [...new Set([0, ...points.map((p) => p % (bytes.length + 1)), bytes.length])].sort((a, b) => a - b)
  const pieces = at.slice(1).map((end, i) => bytes.subarray(at[i], end))
  for (const s of specials) pieces.splice(s % (pieces.length + 1), 0, new Uint8Array(0))
  return pieces
}

/** Text rich in what splits badly: emoji with ZWJ and skin tones, flags, combining marks, CJK, a BOM. */
const text = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 3 }),
      fc.constantFrom('👩‍👩‍👧', '👍🏽', '🇫🇷', '🇯🇵🇺🇸', 'é', 'e\u0301', '\u0301', '日本語', '\u200d', '\ufe0f', '\ufeff', ' ', 'ä̈', 'नमस्ते', '\r\n', '\uFFFD'),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''))

const points = fc.array(fc.nat(), { maxLength: 12 })
const specials = fc.array(fc.nat(), { maxLength: 2 })

describe('TextStream, on any token sequence', () => {
  it('gives chunks that add up to the text, never a U+FFFD the text did not have, each ending on a grapheme boundary', () => {
    const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' })
    fc.assert(
      fc.property(text, points, specials, (whole, at, special) => {
        const pieces = cut(Buffer.from(whole), at, special)
        const chunks = stream(pieces)
        assert.equal(chunks.join(''), whole)
        const ends = new Set([...graphemes.segment(whole)].map((g) => g.index + g.segment.length))
        let length = 0
        for (const chunk of chunks) {
          assert.ok(!chunk.includes('\uFFFD') || whole.includes('\uFFFD'), `a broken character in ${JSON.stringify(chunk)}`)
          length += chunk.length
          if (chunk !== '') assert.ok(ends.has(length), `a chunk ends inside a cluster at ${length} of ${JSON.stringify(whole)}`)
        }
      }),
      runs(500),
    )
  })

  it('adds up to the decode of the bytes whatever they are, invalid UTF-8 included', () => {
    const tokens = fc.array(fc.uint8Array({ maxLength: 4 }), { maxLength: 12 })
    fc.assert(
      fc.property(tokens, fc.boolean(), (pieces, strips) => {
        const decoded = decode(pieces)
        const expected = strips && decoded.startsWith(' ') ? decoded.slice(1) : decoded
        assert.equal(stream(pieces, strips).join(''), expected)
      }),
      runs(500),
    )
  })
})
