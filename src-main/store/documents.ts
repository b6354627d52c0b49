// Attached documents: stored once per content, cut into chunks with a full-text index for
// retrieval, and linked to the messages that attach them [TAG_DOCUMENT_LIFETIME].

import type Database from 'better-sqlite3'
import { AppError } from '../../src-shared/errors.ts'
import { MAX_DOCUMENTS_PER_MESSAGE, type DocumentInfo, type DocumentKind, type DocumentText } from '../../src-shared/types.ts'
import { splitChunks } from './chunks.ts'
import { encodeContent } from './content.ts'

/** A document as the app has read it; `id` is the sha256 of the file's bytes, hex. */
export interface NewDocument {
  id: string
  name: string
  bytes: number
  kind: DocumentKind
  mimeType: string
  text: string
  pages: number | null
}

/** A document as a message attaches it: under this name. */
export interface Attachment {
  documentId: string
  name: string
}

/** A chunk that matched a question, with its text. */
export interface RankedChunk {
  documentId: string
  /** The document's stored name. */
  name: string
  chunk: number
  start: number
  end: number
  text: string
}

interface InfoRow {
  id: string
  name: string
  kind: DocumentKind
  mime_type: string
  bytes: number
  chars: number
  pages: number | null
  created_at: number
}

type ChunkRow = Omit<RankedChunk, 'documentId'> & { document_id: string }

const INFO_COLUMNS = 'd.id, d.name, d.kind, d.mime_type, d.bytes, d.chars, d.pages, d.created_at'
const CHUNK_COLUMNS = 'c.document_id, d.name, c.chunk, c.start, c."end" AS "end", f.text'

/** Words so common that they rank nothing: a question is searched by its other words. */
const STOP_WORDS = new Set(
  ('a about above after again all am an and any are as at be because been before being below between both but by can could did do does ' +
    'doing down during each few for from further had has have having he her here hers him his how i if in into is it its itself just me ' +
    'more most my no nor not now of off on once only or other our ours out over own same she should so some such than that the their ' +
    'theirs them then there these they this those through to too under until up very was we were what when where which while who whom ' +
    'why will with would you your yours s t d ll m re ve').split(' '),
)

/** The most distinct words of a question searched for: a pasted page still makes a quick query. */
const MAX_QUERY_WORDS = 64

/**
 * A free-text question as an FTS5 query matching a chunk with any of its words, or null when
 * it has none worth searching. Each word is a quoted phrase of letters, digits and marks only,
 * so no operator, quote or NUL of the question reaches FTS5's syntax.
 */
export function toDocumentQuery(question: string): string | null {
  const words = new Set(question.toLowerCase().match(/[\p{L}\p{N}\p{M}]+/gu) ?? [])
  const kept = [...words].filter((w) => !STOP_WORDS.has(w)).slice(0, MAX_QUERY_WORDS)
  return kept.length === 0 ? null : kept.map((w) => `"${w}"`).join(' OR ')
}

function toInfo(row: InfoRow): DocumentInfo {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    mimeType: row.mime_type,
    bytes: row.bytes,
    chars: row.chars,
    pages: row.pages,
    createdAt: row.created_at,
  }
}

function toRanked(row: ChunkRow): RankedChunk {
  return { documentId: row.document_id, name: row.name, chunk: row.chunk, start: row.start, end: row.end, text: row.text }
}

function notStored(id: string): AppError {
  return new AppError('NOT_FOUND', `There is no document ${id}.`)
}

export class DocumentStore {
  readonly #db: Database.Database
  readonly #now: () => number
  readonly #info: Database.Statement<[string], InfoRow>
  readonly #text: Database.Statement<[string], { text: string }>
  readonly #insert: Database.Statement<[InfoRow & { text: string }]>
  readonly #insertChunk: Database.Statement<[string, number, number, number]>
  readonly #indexChunk: Database.Statement<[number | bigint, string]>
  readonly #chunkText: Database.Statement<[string, number], { text: string }>
  readonly #ranked: Database.Statement<{ query: string; ids: string; limit: number }, ChunkRow>
  readonly #first: Database.Statement<{ ids: string; limit: number }, ChunkRow>
  readonly #sweep: Database.Statement<[number]>
  readonly #link: Database.Statement<[string, number, string, string]>
  readonly #linked: Database.Statement<[string], InfoRow & { message_id: string; attached_name: string }>

  constructor(db: Database.Database, options: { now: () => number }) {
    this.#db = db
    this.#now = options.now
    this.#info = db.prepare(`SELECT ${INFO_COLUMNS} FROM documents AS d WHERE d.id = ?`)
    this.#text = db.prepare('SELECT text FROM documents WHERE id = ?')
    this.#insert = db.prepare(`INSERT INTO documents (id, name, kind, mime_type, bytes, chars, pages, created_at, text)
      VALUES (@id, @name, @kind, @mime_type, @bytes, @chars, @pages, @created_at, @text)`)
    this.#insertChunk = db.prepare('INSERT INTO document_chunks (document_id, chunk, start, "end") VALUES (?, ?, ?, ?)')
    this.#indexChunk = db.prepare('INSERT INTO document_chunks_fts (rowid, text) VALUES (?, ?)')
    this.#chunkText = db.prepare(`SELECT f.text FROM document_chunks AS c JOIN document_chunks_fts AS f ON f.rowid = c.seq
      WHERE c.document_id = ? AND c.chunk = ?`)
    this.#ranked = db.prepare(`SELECT ${CHUNK_COLUMNS}
      FROM document_chunks_fts AS f
      JOIN document_chunks AS c ON c.seq = f.rowid
      JOIN documents AS d ON d.id = c.document_id
      WHERE document_chunks_fts MATCH @query AND c.document_id IN (SELECT value FROM json_each(@ids))
      ORDER BY f.rank LIMIT @limit`)
    // The first chunk of each document, then the second of each, and so on: every document's start.
    this.#first = db.prepare(`SELECT ${CHUNK_COLUMNS}
      FROM json_each(@ids) AS j
      JOIN document_chunks AS c ON c.document_id = j.value
      JOIN documents AS d ON d.id = c.document_id
      JOIN document_chunks_fts AS f ON f.rowid = c.seq
      ORDER BY c.chunk, j.key LIMIT @limit`)
    this.#sweep = db.prepare(`DELETE FROM documents WHERE created_at < ?
      AND NOT EXISTS (SELECT 1 FROM message_documents WHERE document_id = documents.id)`)
    this.#link = db.prepare('INSERT INTO message_documents (message_id, position, document_id, name) VALUES (?, ?, ?, ?)')
    this.#linked = db.prepare(`SELECT md.message_id, md.name AS attached_name, ${INFO_COLUMNS}
      FROM message_documents AS md JOIN documents AS d ON d.id = md.document_id
      WHERE md.message_id IN (SELECT value FROM json_each(?))
      ORDER BY md.message_id, md.position`)
  }

  has(id: string): boolean {
    return this.#info.get(id) !== undefined
  }

  /** With the name it was first stored under. */
  info(id: string): DocumentInfo {
    const row = this.#info.get(id)
    if (row === undefined) throw notStored(id)
    return toInfo(row)
  }

  text(id: string): DocumentText {
    const info = this.info(id)
    return { info, text: this.#text.get(id)!.text }
  }

  /**
   * Stores the document with its chunks and their index, all or nothing. Content-addressed: an
   * id already stored is kept as it is, and its info comes back under `doc.name`. The text is
   * kept as TEXT holds it (NUL as a space, a lone surrogate as U+FFFD: lengths, so offsets, stay).
   */
  put(doc: NewDocument, createdAt = this.#now()): DocumentInfo {
    return this.#db.transaction(() => {
      const stored = this.#info.get(doc.id)
      if (stored !== undefined) return { ...toInfo(stored), name: doc.name }
      const { text } = encodeContent(doc.text)
      const row: InfoRow = {
        id: doc.id,
        name: doc.name,
        kind: doc.kind,
        mime_type: doc.mimeType,
        bytes: doc.bytes,
        chars: text.length,
        pages: doc.pages,
        created_at: createdAt,
      }
      this.#insert.run({ ...row, text })
      for (const [chunk, { start, end }] of splitChunks(text).entries()) {
        const seq = this.#insertChunk.run(doc.id, chunk, start, end).lastInsertRowid
        this.#indexChunk.run(seq, text.slice(start, end))
      }
      return toInfo(row)
    })()
  }

  /** The text of the document's `chunk`th chunk. */
  chunkText(documentId: string, chunk: number): string {
    const row = this.#chunkText.get(documentId, chunk)
    if (row === undefined) throw new AppError('NOT_FOUND', `Document ${documentId} has no passage ${chunk}.`)
    return row.text
  }

  /**
   * The chunks of these documents that match the question best (BM25), any of its words counting.
   * When none match, or it has no word worth searching ("summarize this"), the documents' first chunks.
   */
  search(question: string, documentIds: readonly string[], limit: number): RankedChunk[] {
    if (documentIds.length === 0 || limit <= 0) return []
    const ids = JSON.stringify([...new Set(documentIds)])
    const query = toDocumentQuery(question)
    const ranked = query === null ? [] : this.#ranked.all({ query, ids, limit })
    return (ranked.length > 0 ? ranked : this.#first.all({ ids, limit })).map(toRanked)
  }

  /** Deletes documents stored before `olderThanMs` ago that no message attaches: attached, never sent. */
  sweep(olderThanMs: number): number {
    return this.#sweep.run(this.#now() - olderThanMs).changes
  }

  /**
   * Attaches documents to a new message, in order and each once. BAD_REQUEST past
   * MAX_DOCUMENTS_PER_MESSAGE, NOT_FOUND for one no longer stored. Run inside the message's transaction.
   */
  link(messageId: string, attachments: readonly Attachment[]): void {
    const seen = new Set<string>()
    const unique = attachments.filter((a) => {
      if (seen.has(a.documentId)) return false
      seen.add(a.documentId)
      return true
    })
    if (unique.length > MAX_DOCUMENTS_PER_MESSAGE) {
      throw new AppError('BAD_REQUEST', `A message can carry at most ${MAX_DOCUMENTS_PER_MESSAGE} files; this one has ${unique.length}.`)
    }
    for (const [position, { documentId, name }] of unique.entries()) {
      if (!this.has(documentId)) throw new AppError('NOT_FOUND', `The attached file ${name} is no longer stored: attach it again.`)
      this.#link.run(messageId, position, documentId, name)
    }
  }

  /** The documents each of these messages attaches, in order and under the names attached; none: absent. */
  linkedTo(messageIds: readonly string[]): Map<string, DocumentInfo[]> {
    const linked = new Map<string, DocumentInfo[]>()
    if (messageIds.length === 0) return linked
    for (const row of this.#linked.iterate(JSON.stringify(messageIds))) {
      const info = { ...toInfo(row), name: row.attached_name }
      const list = linked.get(row.message_id)
      if (list === undefined) linked.set(row.message_id, [info])
      else list.push(info)
    }
    return linked
  }
}
