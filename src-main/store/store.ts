// The chat history store: one SQLite database with conversations, messages, attached documents,
// settings and the search index. Synchronous (better-sqlite3), main process only.

import fs from 'node:fs'
import path from 'node:path'
import type Database from 'better-sqlite3'
import { AppError } from '../../src-shared/errors.ts'
import type { Conversation, ExportFormat, HistoryImportProgress, ImportResult, Message, SearchHit } from '../../src-shared/types.ts'
import { ConversationStore } from './conversations.ts'
import { FolderStore } from './folders.ts'
import { FULL_CHECK_MAX_BYTES, openDb, type OpenDbReport } from './db.ts'
import { DocumentStore } from './documents.ts'
import { hearthJsonChunks, markdownChunks } from './export.ts'
import { importHistory } from './import.ts'
import { MessageRemoval } from './message-removal.ts'
import { MessageStore } from './messages.ts'
import { MIGRATIONS, type Migration } from './migrations.ts'
import { SearchIndex, type SearchOptions } from './search.ts'
import { SettingsStore } from './settings.ts'
import { FLUSH_INTERVAL_MS } from './stream-writer.ts'

export const DB_FILE = 'hearth.db'
export const UNDO_WINDOW_MS = 30_000
/** A document stored this long ago that no message attaches was attached and never sent. */
export const UNSENT_DOCUMENT_MS = 24 * 60 * 60 * 1000

export interface StoreOptions {
  dataDir: string
  undoWindowMs?: number
  flushIntervalMs?: number
  now?: () => number
  /** Tests replace the schema history; the app uses the built-in one. */
  migrations?: readonly Migration[]
  /** Size up to which every start runs a full quick_check (see db.ts). */
  fullCheckMaxBytes?: number
}

/** What happened while opening, for the app to tell the user (moved-aside file, recovered replies). */
export interface StoreOpenReport extends OpenDbReport {
  /** Replies a crash left 'streaming', now 'interrupted' with their text kept. */
  interrupted: number
}

export class Store {
  readonly file: string
  readonly report: StoreOpenReport
  readonly conversations: ConversationStore
  readonly folders: FolderStore
  readonly messages: MessageStore
  /** Deleting a message's subtree, and undoing it. */
  readonly removal: MessageRemoval
  readonly documents: DocumentStore
  readonly settings: SettingsStore
  readonly #db: Database.Database
  readonly #index: SearchIndex
  readonly #now: () => number
  #importing = false

  constructor(db: Database.Database, file: string, report: OpenDbReport, options: StoreOptions) {
    this.#db = db
    this.file = file
    this.#now = options.now ?? Date.now
    this.settings = new SettingsStore(db)
    this.conversations = new ConversationStore(db, {
      now: this.#now,
      undoWindowMs: options.undoWindowMs ?? UNDO_WINDOW_MS,
      defaults: () => ({
        modelId: this.settings.get('defaultModelId'),
        systemPrompt: this.settings.get('defaultSystemPrompt'),
        contextPolicy: this.settings.get('defaultContextPolicy'),
      }),
    })
    this.folders = new FolderStore(db, { now: this.#now, undoWindowMs: options.undoWindowMs ?? UNDO_WINDOW_MS })
    this.documents = new DocumentStore(db, { now: this.#now })
    this.messages = new MessageStore(db, this.conversations, this.documents, {
      now: this.#now,
      flushIntervalMs: options.flushIntervalMs ?? FLUSH_INTERVAL_MS,
    })
    this.removal = new MessageRemoval(db, this.conversations, this.messages, { now: this.#now })
    this.#index = new SearchIndex(db)
    const interrupted = this.messages.recoverStreaming()
    this.conversations.purgeAllDeleted()
    this.documents.sweep(UNSENT_DOCUMENT_MS)
    this.report = { ...report, interrupted }
  }

  /** Best first; see search.ts for how the words are matched and ranked. */
  search(query: string, options?: SearchOptions): SearchHit[] {
    return this.#index.search(query, options)
  }

  /** One string; for a whole large history prefer exportToFile. ids: all conversations when left out. */
  exportText(format: ExportFormat, ids?: readonly string[]): string {
    return [...this.#exportChunks(format, ids)].join('')
  }

  /** Writes next to `target` first and renames, so a failed export leaves no half file behind. */
  exportToFile(target: string, format: ExportFormat, ids?: readonly string[]): void {
    const partial = `${target}.partial`
    const fd = fs.openSync(partial, 'w')
    try {
      for (const chunk of this.#exportChunks(format, ids)) fs.writeSync(fd, chunk)
      fs.fsyncSync(fd)
    } catch (err) {
      fs.closeSync(fd)
      fs.rmSync(partial, { force: true })
      throw err
    }
    fs.closeSync(fd)
    fs.renameSync(partial, target)
  }

  /**
   * Hearth JSON or ChatGPT conversations.json; all of it or, on any problem, none of it. Done in
   * slices between turns of the event loop (see import.ts), one import at a time.
   */
  async importText(
    text: string,
    fileName = 'the file',
    onProgress: (progress: HistoryImportProgress) => void = () => undefined,
  ): Promise<ImportResult> {
    if (this.#importing) throw new AppError('CONFLICT', 'Another import is running: try again once it has finished.')
    this.#importing = true
    try {
      return await importHistory(this.#db, { conversations: this.conversations, folders: this.folders, messages: this.messages, documents: this.documents, settings: this.settings }, {
        text,
        fileName,
        now: this.#now(),
        onProgress: (progress) => onProgress({ fileName, ...progress }),
      })
    } finally {
      this.#importing = false
    }
  }

  /** Finish or abandon stream writers first: their timers cannot write after this. Idempotent. */
  close(): void {
    if (!this.#db.open) return
    this.#db.pragma('optimize')
    this.#db.close()
  }

  *#exportChunks(format: ExportFormat, ids?: readonly string[]): Generator<string> {
    const conversations = this.#selected(ids)
    if (format === 'json') {
      // A whole history's export carries the presets and folders too; one conversation's is that conversation alone.
      const extra = ids === undefined ? { presets: this.settings.get('presets'), folders: this.folders.list() } : undefined
      yield* hearthJsonChunks(conversations, (id) => this.messages.list(id), (id) => this.documents.text(id), this.#now(), extra)
    } else {
      yield* markdownChunks(conversations, (id) => this.messages.branch(id).map((e): Message => e.message))
    }
  }

  #selected(ids?: readonly string[]): Conversation[] {
    if (ids !== undefined) return ids.map((id) => this.conversations.get(id))
    return [...this.conversations.list({ archived: false }), ...this.conversations.list({ archived: true })]
  }
}

/**
 * Opens (creating, migrating or recovering) the history in `dataDir`. Throws DB_FROM_FUTURE
 * for a database written by a newer Hearth; a corrupt one is moved aside (see report).
 */
export function openStore(options: StoreOptions): Store {
  if (options.dataDir === '') throw new AppError('BAD_REQUEST', 'No data directory was given for the history.')
  fs.mkdirSync(options.dataDir, { recursive: true })
  const file = path.join(options.dataDir, DB_FILE)
  const { db, report } = openDb(file, {
    migrations: options.migrations ?? MIGRATIONS,
    now: options.now ?? Date.now,
    fullCheckMaxBytes: options.fullCheckMaxBytes ?? FULL_CHECK_MAX_BYTES,
  })
  return new Store(db, file, report, options)
}
