// Search over every message (FTS5) and conversation title: ranked hits with highlighted snippets.

import type Database from 'better-sqlite3'
import type { MessageHit, MessageRole, SearchHit, SnippetPart, TitleHit } from '../../src-shared/types.ts'
import { DEFAULT_TITLE } from './conversations.ts'
import { matchTitle, parseTerms, toFtsPhrase, type Term } from './search-terms.ts'

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
  role: MessageRole
  created_at: number
  title: string
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

export interface SearchOptions {
  limit?: number
  offset?: number
  /** Only conversations in this folder. */
  folderId?: string | null
}

type HitsStatement = Database.Statement<{ query: string; limit: number; offset: number; folder: string | null }, HitRow>

export class SearchIndex {
  readonly #ranked: HitsStatement
  readonly #newest: HitsStatement
  readonly #probe: Database.Statement<[string, number], { n: number }>
  readonly #titles: Database.Statement<[], { id: string; title: string; folder_id: string | null }>

  constructor(db: Database.Database) {
    // FTS5 itself orders by rank or rowid (no sort in SQL), so the joins and snippet() run
    // only for the rows returned, not for every match.
    const hits = (rank: string, order: string) =>
      db.prepare(`SELECT m.id, m.conversation_id, m.role, m.created_at, c.title, ${rank} AS rank,
          snippet(messages_fts, 0, char(2), char(3), '…', ${SNIPPET_TOKENS}) AS snippet
        FROM messages_fts AS f
        JOIN messages AS m ON m.seq = f.rowid
        JOIN conversations AS c ON c.id = m.conversation_id
        WHERE messages_fts MATCH @query AND c.deleted_at IS NULL AND (@folder IS NULL OR c.folder_id = @folder)
        ORDER BY ${order} LIMIT @limit OFFSET @offset`) as HitsStatement
    this.#ranked = hits('f.rank', 'f.rank')
    this.#newest = hits('NULL', 'f.rowid DESC')
    this.#probe = db.prepare('SELECT count(*) AS n FROM (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ? LIMIT ?)')
    this.#titles = db.prepare('SELECT id, title, folder_id FROM conversations WHERE deleted_at IS NULL ORDER BY pinned DESC, updated_at DESC, id')
  }

  /**
   * Title hits first, then message hits; offset and limit count both as one list. `folderId`
   * keeps only the conversations in that folder.
   */
  search(input: string, options: SearchOptions = {}): SearchHit[] {
    const terms = parseTerms(input)
    if (terms.length === 0) return []
    const { limit = 50, offset = 0, folderId = null } = options
    const titles = this.#titleHits(terms, folderId)
    const shown = titles.slice(offset, offset + limit)
    const rest = limit - shown.length
    if (rest === 0) return shown
    return [...shown, ...this.#messageHits(terms, rest, Math.max(0, offset - titles.length), folderId)]
  }

  /**
   * In the sidebar's order. Titles are in no FTS index (that would take a migration), so every
   * one is read and matched: about 10 ms for the store bench's 10,000 conversations. A title
   * left as created names no conversation, so "new" does not list every untitled chat.
   */
  #titleHits(terms: Term[], folderId: string | null): TitleHit[] {
    const hits: TitleHit[] = []
    for (const { id, title, folder_id } of this.#titles.all()) {
      if (folderId !== null && folder_id !== folderId) continue
      const snippet = title === DEFAULT_TITLE ? null : matchTitle(title, terms)
      if (snippet) hits.push({ kind: 'title', conversationId: id, conversationTitle: title, snippet })
    }
    return hits
  }

  #messageHits(terms: Term[], limit: number, offset: number, folder: string | null): MessageHit[] {
    const phrases = terms.map(toFtsPhrase)
    const common = phrases.some((p) => (this.#probe.get(p, COMMON_WORD_MESSAGES + 1)?.n ?? 0) > COMMON_WORD_MESSAGES)
    const statement = common ? this.#newest : this.#ranked
    return statement.all({ query: phrases.join(' '), limit, offset, folder }).map((row) => ({
      kind: 'message',
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
