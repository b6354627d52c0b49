// Full-text search over every message (FTS5): ranked hits with highlighted snippets.

import type Database from 'better-sqlite3'
import type { Role, SearchHit, SnippetPart } from '../../src-shared/types.ts'

// Control characters as highlight marks: snippets come back as plain text parts, never HTML.
const MATCH_START = '\u0002'
const MATCH_END = '\u0003'
const SNIPPET_TOKENS = 16

/**
 * bm25 needs, for each searched word, the number of messages holding it, and FTS5 counts
 * them by reading the word's whole list: a word in most of a million messages costs a
 * hundred milliseconds or more. Such a word also says little about relevance, so when any
 * searched word is in more messages than this, hits come newest first instead of ranked.
 */
export const COMMON_WORD_MESSAGES = 5_000

interface HitRow {
  rank: number | null
  snippet: string
  id: string
  conversation_id: string
  role: Role
  created_at: number
  title: string
}

/**
 * The user's words as FTS5 phrases, all of which must occur. Quoting makes FTS5 operators
 * and punctuation plain text; a trailing * asks for words that start with what precedes it.
 */
export function toFtsPhrases(input: string): string[] {
  // FTS5 reads its query as a C string: a NUL would cut it short.
  return input
    .split(/[\s\0]+/)
    .filter((w) => w !== '')
    .map((w) => {
      const prefix = w.length > 1 && w.endsWith('*')
      return `"${(prefix ? w.slice(0, -1) : w).replaceAll('"', '""')}"${prefix ? '*' : ''}`
    })
}

export function parseSnippet(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = []
  for (const [i, piece] of snippet.split(MATCH_START).entries()) {
    const [match, rest] = i === 0 ? [null, piece] : splitOnce(piece, MATCH_END)
    if (match !== null && match !== '') parts.push({ text: match, match: true })
    if (rest !== '') parts.push({ text: rest, match: false })
  }
  return parts
}

function splitOnce(s: string, sep: string): [string, string] {
  const at = s.indexOf(sep)
  return at === -1 ? [s, ''] : [s.slice(0, at), s.slice(at + sep.length)]
}

type HitsStatement = Database.Statement<{ query: string; limit: number; offset: number }, HitRow>

export class SearchIndex {
  readonly #ranked: HitsStatement
  readonly #newest: HitsStatement
  readonly #probe: Database.Statement<[string, number], { n: number }>

  constructor(db: Database.Database) {
    // FTS5 itself orders by rank or rowid (no sort in SQL), so the joins and snippet() run
    // only for the rows returned, not for every match.
    const hits = (rank: string, order: string) =>
      db.prepare(`SELECT m.id, m.conversation_id, m.role, m.created_at, c.title, ${rank} AS rank,
          snippet(messages_fts, 0, char(2), char(3), '…', ${SNIPPET_TOKENS}) AS snippet
        FROM messages_fts AS f
        JOIN messages AS m ON m.seq = f.rowid
        JOIN conversations AS c ON c.id = m.conversation_id
        WHERE messages_fts MATCH @query AND c.deleted_at IS NULL
        ORDER BY ${order} LIMIT @limit OFFSET @offset`) as HitsStatement
    this.#ranked = hits('f.rank', 'f.rank')
    this.#newest = hits('NULL', 'f.rowid DESC')
    this.#probe = db.prepare('SELECT count(*) AS n FROM (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ? LIMIT ?)')
  }

  search(input: string, options: { limit?: number; offset?: number } = {}): SearchHit[] {
    const phrases = toFtsPhrases(input)
    if (phrases.length === 0) return []
    const { limit = 50, offset = 0 } = options
    const common = phrases.some((p) => (this.#probe.get(p, COMMON_WORD_MESSAGES + 1)?.n ?? 0) > COMMON_WORD_MESSAGES)
    const statement = common ? this.#newest : this.#ranked
    return statement.all({ query: phrases.join(' '), limit, offset }).map((row) => ({
      conversationId: row.conversation_id,
      conversationTitle: row.title,
      messageId: row.id,
      role: row.role,
      createdAt: row.created_at,
      snippet: parseSnippet(row.snippet),
      rank: row.rank,
    }))
  }
}
