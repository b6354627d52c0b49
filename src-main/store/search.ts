// Full-text search over every message (FTS5): ranked hits with highlighted snippets.

import type Database from 'better-sqlite3'
import type { Role, SearchHit, SnippetPart } from '../../src-shared/types.ts'

// Control characters as highlight marks: snippets come back as plain text parts, never HTML.
const MATCH_START = '\u0002'
const MATCH_END = '\u0003'
const SNIPPET_TOKENS = 16

interface HitRow {
  rank: number
  snippet: string
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

/**
 * Ranking scores every candidate, so for a word found in most messages ranking all of them
 * would take seconds at a million messages: hits are ranked among the most recent
 * RANK_WINDOW matches. Rarer words (fewer matches than that) are ranked over all of them.
 */
export const RANK_WINDOW = 2000

export class SearchIndex {
  readonly #hits: Database.Statement<{ query: string; window: number; limit: number; offset: number }, HitRow>

  constructor(db: Database.Database) {
    // ORDER BY rank is done by FTS5 itself (no sort in SQL), so the joins and snippet() run
    // only for the rows returned, not for every match.
    this.#hits = db.prepare(`SELECT m.id, m.conversation_id, m.role, m.created_at, c.title, f.rank AS rank,
        snippet(messages_fts, 0, char(2), char(3), '…', ${SNIPPET_TOKENS}) AS snippet
      FROM messages_fts AS f
      JOIN messages AS m ON m.seq = f.rowid
      JOIN conversations AS c ON c.id = m.conversation_id
      WHERE messages_fts MATCH @query AND c.deleted_at IS NULL
        AND f.rowid >= coalesce((SELECT rowid FROM messages_fts WHERE messages_fts MATCH @query
          ORDER BY rowid DESC LIMIT 1 OFFSET @window - 1), 0)
      ORDER BY f.rank LIMIT @limit OFFSET @offset`)
  }

  search(input: string, options: { limit?: number; offset?: number } = {}): SearchHit[] {
    const query = toFtsQuery(input)
    if (query === null) return []
    const { limit = 50, offset = 0 } = options
    return this.#hits.all({ query, window: RANK_WINDOW, limit, offset }).map((row) => ({
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
