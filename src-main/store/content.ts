// Exact storage of message text. SQLite TEXT is UTF-8, which cannot hold a lone UTF-16
// surrogate, and SQL functions (FTS5 snippets, replace) stop at NUL: text with either is kept
// as UTF-16LE code units in a BLOB beside a clean TEXT form that search indexes.

export interface StoredContent {
  /** Clean text for search: lone surrogates become U+FFFD, NUL becomes a space. */
  text: string
  /** The exact code units, only when `text` differs from the original. */
  utf16: Buffer | null
}

/** Index of the first NUL or lone (unpaired) surrogate at or after `from`, or -1. */
function unclean(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const unit = s.charCodeAt(i)
    if (unit === 0) return i
    if (unit < 0xd800 || unit > 0xdfff) continue
    if (unit <= 0xdbff) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 1
        continue
      }
    }
    return i
  }
  return -1
}

/** True when TEXT holds `s` exactly. */
export function isClean(s: string): boolean {
  return unclean(s, 0) === -1
}

export function encodeContent(s: string): StoredContent {
  let at = unclean(s, 0)
  if (at === -1) return { text: s, utf16: null }
  const pieces: string[] = []
  let start = 0
  while (at !== -1) {
    pieces.push(s.slice(start, at), s.charCodeAt(at) === 0 ? ' ' : '\uFFFD')
    start = at + 1
    at = unclean(s, start)
  }
  pieces.push(s.slice(start))
  return { text: pieces.join(''), utf16: Buffer.from(s, 'utf16le') }
}

export function decodeContent(text: string, utf16: Buffer | null): string {
  return utf16 === null ? text : utf16.toString('utf16le')
}
