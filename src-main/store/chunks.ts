// A document's text cut into chunks, the units that retrieval ranks and quotes. Pure.

/** [start, end) in the text, in UTF-16 code units as JavaScript indexes strings. */
export interface Span {
  start: number
  end: number
}

/** Chunks are cut between these lengths: about 1,200 characters, some 300 tokens of prose. */
export const MIN_CHUNK_CHARS = 800
export const MAX_CHUNK_CHARS = 1400

/**
 * Where a chunk may end, best first: each matches the whitespace after the place. A sentence end
 * is punctuation with any closing quotes or brackets after it.
 */
const BREAKS: readonly RegExp[] = [
  /\n[^\S\n]*\n\s*/g,
  /\n\s*/g,
  /(?<=[.!?…。！？][)\]"'’”»]*)\s+/g,
  /\s+/g,
]

const SPACE = /\s/

/**
 * Chunks covering the text in order: between two chunks lies only whitespace, and none starts or
 * ends with it. Each is cut at the best break between MIN_CHUNK_CHARS and MAX_CHUNK_CHARS (a
 * paragraph, a line, a sentence, a word); only a word longer than MAX_CHUNK_CHARS is cut inside.
 */
export function splitChunks(text: string): Span[] {
  const chunks: Span[] = []
  let start = skipSpace(text, 0)
  while (start < text.length) {
    const cut = text.length - start <= MAX_CHUNK_CHARS ? text.length : cutAfter(text, start)
    chunks.push({ start, end: trimEnd(text, start, cut) })
    start = skipSpace(text, cut)
  }
  return chunks
}

/** Where the chunk that starts at `start` ends; the text goes on past MAX_CHUNK_CHARS from there. */
function cutAfter(text: string, start: number): number {
  const last = start + MAX_CHUNK_CHARS
  // Searched in a copy of the window: on the whole text a pattern absent from the window would
  // be looked for to the end, for every chunk. The extra character lets "\n\n" match at the edge.
  const window = text.slice(start, last + 2)
  for (const pattern of BREAKS) {
    let found = -1
    pattern.lastIndex = MIN_CHUNK_CHARS
    for (let m = pattern.exec(window); m !== null && m.index <= MAX_CHUNK_CHARS; m = pattern.exec(window)) found = m.index
    if (found !== -1) return start + found
  }
  // No break in the window: the last one before it, else a word longer than a chunk.
  for (let i = start + MIN_CHUNK_CHARS - 1; i > start; i--) if (SPACE.test(text[i]!)) return i
  return isLowSurrogate(text.charCodeAt(last)) ? last - 1 : last
}

function skipSpace(text: string, from: number): number {
  let i = from
  while (i < text.length && SPACE.test(text[i]!)) i++
  return i
}

function trimEnd(text: string, start: number, end: number): number {
  let i = end
  while (i > start && SPACE.test(text[i - 1]!)) i--
  return i
}

/** Cutting before a low surrogate would split a character such as an emoji in two. */
function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff
}
