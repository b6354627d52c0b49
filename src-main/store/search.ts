// Full-text search over every message (FTS5): ranked hits with highlighted snippets.

import type Database from 'better-sqlite3'
import type { Role, SearchHit, SnippetPart } from '../../src-shared/types.ts'

// Control characters as highlight marks: snippets come back as plain text parts, never HTML.
const MATCH_START = '\u0002'
const MATCH_END = '\u0003'
const SNIPPET_TOKENS = 16

interface HitRow {
  seq: number
  rank: number
  id: string
  conversation_id: string
  role: Role
  created_at: number
  title: string
}

/**
 * The user's words as an FTS5 query: every word must occur, the last one as a prefix (so
 * results follow typing). Quoting makes FTS5 operators and punctuation plain text; null
 * when there is nothing to look for.
 */
export function toFtsQuery(input: string): string | null {
  // FTS5 reads its query as a C string: a NUL would cut it short.
  const words = input.split(/[\s\0]+/).filter((w) => w !== '')
  if (words.length === 0) return null
  return words.map((w, i) => `"${w.replaceAll('"', '""')}"${i === words.length - 1 ? '*' : ''}`).join(' ')
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

export class SearchIndex {
  readonly #hits: Database.Statement<[string, number, number], HitRow>
  readonly #snippet: Database.Statement<[string, number], { snippet: string }>

  constructor(db: Database.Database) {
    this.#hits = db.prepare(`SELECT f.rowid AS seq, f.rank AS rank, m.id, m.conversation_id, m.role, m.created_at, c.title
      FROM messages_fts AS f
      JOIN messages AS m ON m.seq = f.rowid
      JOIN conversations AS c ON c.id = m.conversation_id
      WHERE messages_fts MATCH ? AND c.deleted_at IS NULL
      ORDER BY f.rank LIMIT ? OFFSET ?`)
    // Snippets only for the page of hits shown, not for every match. better-sqlite3 binds
    // numbers as REAL, and FTS5 silently ignores a REAL rowid constraint: hence the CAST.
    this.#snippet = db.prepare(`SELECT snippet(messages_fts, 0, char(2), char(3), '…', ${SNIPPET_TOKENS}) AS snippet
      FROM messages_fts WHERE messages_fts MATCH ? AND rowid = CAST(? AS INTEGER)`)
  }

  search(input: string, options: { limit?: number; offset?: number } = {}): SearchHit[] {
    const query = toFtsQuery(input)
    if (query === null) return []
    const { limit = 50, offset = 0 } = options
    return this.#hits.all(query, limit, offset).map((row) => ({
      conversationId: row.conversation_id,
      conversationTitle: row.title,
      messageId: row.id,
      role: row.role,
      createdAt: row.created_at,
      snippet: parseSnippet(this.#snippet.get(query, row.seq)?.snippet ?? ''),
      rank: row.rank,
    }))
  }
}
