// Test helpers for the store: temp data dirs, a clock the test moves by hand, older schemas, documents.

import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import Database from 'better-sqlite3'
import type { NewDocument } from '../../../src-main/store/documents.ts'
import { migrate, MIGRATIONS } from '../../../src-main/store/migrations.ts'
import { DB_FILE, openStore, type Store, type StoreOptions } from '../../../src-main/store/store.ts'

export function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-store-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

export interface Clock {
  now: () => number
  advance(ms: number): void
}

export function manualClock(start = 1_700_000_000_000): Clock {
  let t = start
  return { now: () => t, advance: (ms) => (t += ms) }
}

/** A store in a fresh temp dir, closed after the test. */
export function tempStore(t: TestContext, options: Partial<StoreOptions> = {}): Store {
  const store = openStore({ dataDir: tempDir(t), ...options })
  t.after(() => store.close())
  return store
}

/** A second, raw connection to look at what is really on disk. */
export function rawDb(file: string): Database.Database {
  return new Database(file, { readonly: true })
}

/**
 * A history in `dir` as an older Hearth left it: the first `version` migrations only, and a
 * connection to write what that version would have. A Store cannot open it at that version: its
 * statements need the latest schema.
 */
export function olderDb(dir: string, version: number): Database.Database {
  const db = new Database(path.join(dir, DB_FILE))
  db.pragma('foreign_keys = ON')
  migrate(db, MIGRATIONS.slice(0, version), () => path.join(dir, 'unused-backup.db'))
  return db
}

/** A document whose id is the sha256 of its text, as if the file's bytes were the text. */
export function textDocument(name: string, text: string): NewDocument {
  const id = createHash('sha256').update(text).digest('hex')
  return { id, name, bytes: Buffer.byteLength(text), kind: 'text', mimeType: 'text/plain', text, pages: null }
}

/** Paragraphs of ordinary words, about one chunk each; `special` puts words into some of them. */
export function report(paragraphs: number, special: Record<number, string> = {}): string {
  const sentence = 'The committee reviewed the budget and the schedule for the coming year. '
  return Array.from({ length: paragraphs }, (_, i) => `${special[i] ?? ''} ${sentence.repeat(13)}`.trim()).join('\n\n')
}

/** Foreign keys and both full-text indexes as SQLite checks them. */
export function assertIntact(file: string): void {
  const db = new Database(file)
  try {
    assert.deepEqual(db.pragma('foreign_key_check'), [])
    db.exec(`INSERT INTO document_chunks_fts (document_chunks_fts, rank) VALUES ('integrity-check', 1)`)
    db.exec(`INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)`)
    const orphans = db.prepare('SELECT count(*) AS n FROM document_chunks_fts WHERE rowid NOT IN (SELECT seq FROM document_chunks)').get() as { n: number }
    assert.equal(orphans.n, 0, 'indexed chunks of deleted documents')
  } finally {
    db.close()
  }
}
