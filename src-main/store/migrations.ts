// Schema migrations: one per user_version, all pending ones applied in one transaction.

import type Database from 'better-sqlite3'
import { AppError } from '../../src-shared/errors.ts'

export interface Migration {
  /** The user_version the database has once this migration has run. */
  version: number
  up(db: Database.Database): void
  /**
   * It rebuilds a table others reference (SQLite changes a CHECK constraint no other way): foreign
   * keys are off while it runs, so dropping the old table cascades nowhere, and checked before
   * the migration commits.
   */
  rebuildsTables?: boolean
}

export interface MigrationOutcome {
  from: number
  to: number
  /** The VACUUM INTO copy taken before migrating; null when there was nothing to keep. */
  backup: string | null
}

// Messages get an INTEGER seq as rowid: the FTS index refers to rows by rowid, and only an
// INTEGER PRIMARY KEY keeps rowids stable across VACUUM.
// [TAG_FTS_SYNC] A message is in messages_fts exactly while its status is not 'streaming': the
// index is written once when a reply finishes, not on every flush. Every 'delete' below must
// pass the text that was indexed, or FTS5 corrupts its index. So FTS5's 'rebuild' (which
// would index streaming rows too) must never run, and its 'integrity-check' with rank 1
// holds only while no reply streams.
const SCHEMA_V1 = `
CREATE TABLE conversations (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  model_id TEXT,
  system_prompt TEXT NOT NULL,
  params TEXT NOT NULL CHECK (json_valid(params)),
  context_policy TEXT NOT NULL CHECK (context_policy IN ('stop', 'drop-oldest', 'truncate-middle')),
  pinned INTEGER NOT NULL CHECK (pinned IN (0, 1)),
  archived INTEGER NOT NULL CHECK (archived IN (0, 1)),
  -- No foreign key: messages already reference conversations, and a cycle would make deletes order-dependent.
  active_leaf_id TEXT,
  -- Set by a delete that can still be undone; purged once the undo window has passed.
  deleted_at INTEGER
) STRICT;
CREATE INDEX conversations_by_update ON conversations (archived, pinned DESC, updated_at DESC)
  WHERE deleted_at IS NULL;
CREATE INDEX conversations_deleted ON conversations (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  parent_id TEXT REFERENCES messages (id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
  content TEXT NOT NULL,
  -- The exact UTF-16LE code units when the text has NUL or lone surrogates (see content.ts).
  content_utf16 BLOB,
  status TEXT NOT NULL CHECK (status IN ('streaming', 'complete', 'interrupted', 'error')),
  stats TEXT CHECK (stats IS NULL OR json_valid(stats)),
  model_id TEXT,
  error TEXT,
  created_at INTEGER NOT NULL
) STRICT;
-- Covers the tree skeleton of a conversation (see MessageStore#tree) without touching rows.
CREATE INDEX messages_by_conversation ON messages (conversation_id, parent_id, seq, id);
CREATE INDEX messages_by_parent ON messages (parent_id, seq);
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';

CREATE VIRTUAL TABLE messages_fts USING fts5 (
  content, content = 'messages', content_rowid = 'seq',
  tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.status <> 'streaming' BEGIN
  INSERT INTO messages_fts (rowid, content) VALUES (new.seq, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.status <> 'streaming' BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    VALUES ('delete', old.seq, old.content);
END;
-- One trigger, so the old text always leaves the index before the new text enters it.
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    SELECT 'delete', old.seq, old.content WHERE old.status <> 'streaming';
  INSERT INTO messages_fts (rowid, content)
    SELECT new.seq, new.content WHERE new.status <> 'streaming';
END;

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL CHECK (json_valid(value))
) STRICT;
`

/**
 * Until v2 the settings kept the default parameters whole, the app's own defaults included, as
 * soon as the user changed any one; now they keep only what the user set, and the rest comes from
 * the model ([TAG_PARAM_PRECEDENCE]). A value equal to v1's default cannot be told from one carried
 * along, and carried along is by far the likelier, so those are dropped.
 */
const V1_DEFAULT_PARAMS: Record<string, unknown> = {
  temperature: 0.7,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repetitionPenalty: 1.1,
  maxTokens: 1024,
  seed: null,
}

function keepOnlySetParams(db: Database.Database): void {
  const row = db.prepare(`SELECT value FROM settings WHERE key = 'defaultParams'`).get() as { value: string } | undefined
  if (!row) return
  const stored: unknown = JSON.parse(row.value)
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return
  const kept = Object.fromEntries(
    Object.entries(stored).filter(([key, value]) => !(key === 'stop' ? Array.isArray(value) && value.length === 0 : V1_DEFAULT_PARAMS[key] === value)),
  )
  db.prepare(`UPDATE settings SET value = ? WHERE key = 'defaultParams'`).run(JSON.stringify(kept))
}

// Attached files. A document's id is the sha256 of its bytes, so the same file is stored once
// however often and under whatever names it is attached; message_documents keeps each name.
// Chunks are the units of retrieval: their offsets index the document's text (UTF-16 code units,
// as JavaScript counts them) and their text lives in document_chunks_fts. That FTS table keeps its
// own copy of each chunk's text, unlike messages_fts: a delete then needs only the rowid, so the
// [TAG_FTS_SYNC] hazard (a 'delete' with other text than was indexed) cannot arise, and a passage
// is read by rowid without loading its whole document. The cost is the text stored twice.
// [TAG_DOCUMENT_LIFETIME] A document lives while a message attaches it: the trigger below deletes
// it with its last reference (a message deleted, or a conversation purged, cascades here); one
// stored but never sent is removed by DocumentStore#sweep once it is old enough.
const SCHEMA_V3 = `
CREATE TABLE documents (
  id TEXT PRIMARY KEY CHECK (length(id) = 64 AND id NOT GLOB '*[^0-9a-f]*'),
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('text', 'markdown', 'code', 'csv', 'tsv', 'json', 'html', 'pdf', 'docx')),
  mime_type TEXT NOT NULL,
  bytes INTEGER NOT NULL CHECK (bytes >= 0),
  chars INTEGER NOT NULL CHECK (chars >= 0),
  pages INTEGER CHECK (pages IS NULL OR pages >= 0),
  created_at INTEGER NOT NULL,
  -- Last, so reading the other columns never walks the text's overflow pages.
  text TEXT NOT NULL
) STRICT;

CREATE TABLE document_chunks (
  seq INTEGER PRIMARY KEY,
  document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
  chunk INTEGER NOT NULL CHECK (chunk >= 0),
  -- [start, end) in the document's text.
  start INTEGER NOT NULL CHECK (start >= 0),
  "end" INTEGER NOT NULL CHECK ("end" > start),
  UNIQUE (document_id, chunk)
) STRICT;

CREATE VIRTUAL TABLE document_chunks_fts USING fts5 (
  text, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER document_chunks_fts_delete AFTER DELETE ON document_chunks BEGIN
  DELETE FROM document_chunks_fts WHERE rowid = old.seq;
END;

CREATE TABLE message_documents (
  message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  position INTEGER NOT NULL CHECK (position >= 0),
  document_id TEXT NOT NULL REFERENCES documents (id),
  -- The file's name as attached to this message.
  name TEXT NOT NULL,
  PRIMARY KEY (message_id, position),
  -- Also the index the trigger below and foreign key checks look documents up by.
  UNIQUE (document_id, message_id)
) STRICT;
CREATE TRIGGER message_documents_release AFTER DELETE ON message_documents
  WHEN NOT EXISTS (SELECT 1 FROM message_documents WHERE document_id = old.document_id) BEGIN
  DELETE FROM documents WHERE id = old.document_id;
END;

ALTER TABLE messages ADD COLUMN document_context TEXT
  CHECK (document_context IS NULL OR json_valid(document_context));
`

// Tool calls. An assistant message keeps the calls it made (tool_calls); each call's result is a
// message of its own, role 'tool', child of the call's message or of the previous result, whose
// `tool` names the call (id, tool, server, arguments). Its status says how the call went: streaming
// while it waits for the user's approval or runs, complete with the result, error when it failed,
// was denied, timed out or was cancelled. The next reply hangs under the last result, so branches
// and the KV cache follow the calls like any other turn. Only a rebuild widens the role CHECK: the
// table is copied as it is (seq kept, so messages_fts still points at the right rows), then its
// indexes and FTS triggers are made again exactly as before.
const SCHEMA_V4 = `
CREATE TABLE messages_v4 (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  parent_id TEXT REFERENCES messages (id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
  content TEXT NOT NULL,
  content_utf16 BLOB,
  status TEXT NOT NULL CHECK (status IN ('streaming', 'complete', 'interrupted', 'error')),
  stats TEXT CHECK (stats IS NULL OR json_valid(stats)),
  model_id TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  document_context TEXT CHECK (document_context IS NULL OR json_valid(document_context)),
  tool_calls TEXT CHECK (tool_calls IS NULL OR json_valid(tool_calls)),
  tool TEXT CHECK (tool IS NULL OR json_valid(tool)),
  CHECK ((role = 'tool') = (tool IS NOT NULL))
) STRICT;
INSERT INTO messages_v4 (seq, id, conversation_id, parent_id, role, content, content_utf16, status, stats, model_id, error, created_at, document_context)
  SELECT seq, id, conversation_id, parent_id, role, content, content_utf16, status, stats, model_id, error, created_at, document_context FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v4 RENAME TO messages;
CREATE INDEX messages_by_conversation ON messages (conversation_id, parent_id, seq, id);
CREATE INDEX messages_by_parent ON messages (parent_id, seq);
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.status <> 'streaming' BEGIN
  INSERT INTO messages_fts (rowid, content) VALUES (new.seq, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.status <> 'streaming' BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    VALUES ('delete', old.seq, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    SELECT 'delete', old.seq, old.content WHERE old.status <> 'streaming';
  INSERT INTO messages_fts (rowid, content)
    SELECT new.seq, new.content WHERE new.status <> 'streaming';
END;

-- The MCP servers whose tools the conversation offers its model, by name (Settings' mcpServers).
ALTER TABLE conversations ADD COLUMN tool_servers TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tool_servers));
`

// A reply the user rewrote: a branch beside the model's reply, its text the user's, its model the
// one it replaces (stats null: nothing generated it). A column rather than a guess from null
// stats, which imported replies have too.
const SCHEMA_V5 = `
ALTER TABLE messages ADD COLUMN edited INTEGER NOT NULL DEFAULT 0 CHECK (edited IN (0, 1));
`

// Folders group conversations in the sidebar, in the user's order (position); a folder's default
// preset (an id in Settings' presets, no key: settings are not a table) starts its new chats. A
// conversation is in one folder or none; deleting the folder leaves its conversations unfiled.
const SCHEMA_V6 = `
CREATE TABLE folders (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  position INTEGER NOT NULL,
  collapsed INTEGER NOT NULL DEFAULT 0 CHECK (collapsed IN (0, 1)),
  default_preset_id TEXT,
  created_at INTEGER NOT NULL
) STRICT;
ALTER TABLE conversations ADD COLUMN folder_id TEXT REFERENCES folders (id) ON DELETE SET NULL;
CREATE INDEX conversations_by_folder ON conversations (folder_id) WHERE folder_id IS NOT NULL;
`

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, up: (db) => db.exec(SCHEMA_V1) },
  { version: 2, up: keepOnlySetParams },
  { version: 3, up: (db) => db.exec(SCHEMA_V3) },
  { version: 4, up: (db) => db.exec(SCHEMA_V4), rebuildsTables: true },
  { version: 5, up: (db) => db.exec(SCHEMA_V5) },
  { version: 6, up: (db) => db.exec(SCHEMA_V6) },
]

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number
}

/**
 * Brings the database to the last migration's version. A database that already holds
 * anything is first copied with VACUUM INTO to `backupPath(from)`; the migrations and the new
 * user_version commit together or not at all.
 */
export function migrate(
  db: Database.Database,
  migrations: readonly Migration[],
  backupPath: (from: number) => string,
): MigrationOutcome {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${i} declares version ${m.version}, expected ${i + 1}`)
  })
  const from = schemaVersion(db)
  const to = migrations.length
  if (from > to) {
    throw new AppError(
      'DB_FROM_FUTURE',
      `This history was written by a newer Hearth (schema version ${from}; this version knows up to ${to}). Update Hearth to open it.`,
    )
  }
  if (from === to) return { from, to, backup: null }

  const holdsData = db.prepare('SELECT 1 FROM sqlite_schema LIMIT 1').get() !== undefined
  let backup: string | null = null
  if (holdsData) {
    backup = backupPath(from)
    db.prepare('VACUUM INTO ?').run(backup)
  }
  const pending = migrations.slice(from)
  // The pragma is a no-op inside a transaction, so it goes off around it.
  const keysOff = pending.some((m) => m.rebuildsTables === true) && (db.pragma('foreign_keys', { simple: true }) as number) === 1
  if (keysOff) db.pragma('foreign_keys = OFF')
  try {
    db.transaction(() => {
      for (const m of pending) m.up(db)
      if (keysOff && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
        throw new Error('a migration left rows whose references point nowhere')
      }
      // PRAGMA takes no bound parameters; `to` is an integer we computed.
      db.pragma(`user_version = ${to}`)
    })()
  } finally {
    if (keysOff) db.pragma('foreign_keys = ON')
  }
  return { from, to, backup }
}
