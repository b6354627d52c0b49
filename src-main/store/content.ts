// Exact storage of message text. SQLite TEXT is UTF-8, which cannot hold a lone UTF-16
// surrogate: such text is kept as UTF-16LE code units in a BLOB beside a searchable TEXT form.

/** A lone (unpaired) surrogate code unit. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

export interface StoredContent {
  /** Well-formed text for search and display: lone surrogates become U+FFFD. */
  text: string
  /** The exact code units, only when `text` differs from the original. */
  utf16: Buffer | null
}

export function isWellFormed(s: string): boolean {
  LONE_SURROGATE.lastIndex = 0
  return !LONE_SURROGATE.test(s)
}

export function encodeContent(s: string): StoredContent {
  if (isWellFormed(s)) return { text: s, utf16: null }
  return { text: s.replace(LONE_SURROGATE, '\uFFFD'), utf16: Buffer.from(s, 'utf16le') }
}

export function decodeContent(text: string, utf16: Buffer | null): string {
  return utf16 === null ? text : utf16.toString('utf16le')
}
