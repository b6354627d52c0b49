// What the user typed into search, as terms: the FTS5 query for messages and the same match for titles.

import type { SnippetPart } from '../../src-shared/types.ts'

/**
 * One searched phrase, its words in order and folded (see fold). Every term must match.
 * prefix: the last word matches any word that starts with it (so "drag" finds "dragon");
 * a phrase the user put in double quotes matches whole words only.
 */
export interface Term {
  words: string[]
  prefix: boolean
}

// FTS5's unicode61 tokenizer: letters, numbers and private-use characters make words, the rest
// separates them. Marks stay with the word they follow, and fold drops them.
const WORD = /[\p{L}\p{N}\p{Co}][\p{L}\p{N}\p{Co}\p{M}]*/gu

/** What unicode61 with remove_diacritics compares: lower case, no accents. */
function fold(word: string): string {
  return word.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()
}

/**
 * Only words reach FTS5, never the user's punctuation, so operators (AND, NEAR, -, :, *,
 * parentheses) and stray quotes are plain text and no query can be a syntax error. A quote
 * without its pair is plain text too. "don't" and "col:x" are phrases of two words, as FTS5
 * would index them.
 */
export function parseTerms(input: string): Term[] {
  const terms: Term[] = []
  for (const [, quoted, plain] of input.matchAll(/"([^"]*)"|([^\s"]+)/g)) {
    const words = [...(quoted ?? plain ?? '').matchAll(WORD)].map(([w]) => fold(w))
    if (words.length > 0) terms.push({ words, prefix: quoted === undefined })
  }
  return terms
}

/** One term as an FTS5 phrase; the words hold no quotes or operators (see parseTerms). */
export function toFtsPhrase(term: Term): string {
  return `"${term.words.join(' ')}"${term.prefix ? '*' : ''}`
}

/**
 * The title with the words that match marked, when every term is in it (as FTS5 would match
 * it in a message); else null.
 */
export function matchTitle(title: string, terms: Term[]): SnippetPart[] | null {
  // Most titles match no term: ruling them out on the whole folded title is several times cheaper.
  const folded = fold(title)
  if (!terms.every((term) => term.words.every((w) => folded.includes(w)))) return null
  const words = [...title.matchAll(WORD)].map((m) => ({ at: m.index, end: m.index + m[0].length, folded: fold(m[0]) }))
  const marked = new Set<number>()
  for (const { words: wanted, prefix } of terms) {
    let found = false
    for (let i = 0; i + wanted.length <= words.length; i++) {
      const hit = wanted.every((w, j) => {
        const word = words[i + j]?.folded ?? ''
        return prefix && j === wanted.length - 1 ? word.startsWith(w) : word === w
      })
      if (!hit) continue
      found = true
      for (let j = 0; j < wanted.length; j++) marked.add(i + j)
    }
    if (!found) return null
  }
  const parts: SnippetPart[] = []
  let from = 0
  for (const [i, { at, end }] of words.entries()) {
    if (!marked.has(i)) continue
    if (at > from) parts.push({ text: title.slice(from, at), match: false })
    parts.push({ text: title.slice(at, end), match: true })
    from = end
  }
  if (from < title.length) parts.push({ text: title.slice(from), match: false })
  return parts
}
