import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { AppError } from '../../../src-shared/errors.ts'
import { MIGRATIONS, type Migration } from '../../../src-main/store/migrations.ts'
import { DB_FILE, openStore } from '../../../src-main/store/store.ts'
import { rawDb, tempDir } from './helpers.ts'

function makeDb(file: string, setup: (db: Database.Database) => void): void {
  const db = new Database(file)
  setup(db)
  db.close()
}

describe('openStore', () => {
  it('creates a WAL database of STRICT tables at the latest schema version', (t) => {
    const dir = tempDir(t)
    const store = openStore({ dataDir: dir })
    store.close()
    const db = rawDb(path.join(dir, DB_FILE))
    t.after(() => db.close())
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length)
    const tables = db.prepare(`SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND type = 'table'
      AND name IN ('conversations', 'messages', 'settings')`).all() as { name: string; strict: number }[]
    assert.deepEqual(tables.map((r) => [r.name, r.strict]).sort(), [['conversations', 1], ['messages', 1], ['settings', 1]])
  })

  it('enforces foreign keys: a message needs its conversation', (t) => {
    const store = openStore({ dataDir: tempDir(t) })
    t.after(() => store.close())
    assert.throws(
      () =>
        store.messages.insert({
          conversationId: 'no-such-conversation',
          parentId: null,
          role: 'user',
          content: 'hi',
          status: 'complete',
          stats: null,
          modelId: null,
          error: null,
          createdAt: 1,
        }),
      /FOREIGN KEY/,
    )
  })

  it('refuses a database from a newer Hearth and leaves the file as it was', (t) => {
    const dir = tempDir(t)
    const file = path.join(dir, DB_FILE)
    makeDb(file, (db) => {
      db.exec('CREATE TABLE future (x)')
      db.pragma('user_version = 7')
    })
    const before = fs.readFileSync(file)
    assert.throws(
      () => openStore({ dataDir: dir }),
      (err: unknown) =>
        err instanceof AppError &&
        err.code === 'DB_FROM_FUTURE' &&
        err.message.includes('schema version 7') &&
        err.message.includes(`up to ${MIGRATIONS.length}`),
    )
    assert.deepEqual(fs.readFileSync(file), before)
    assert.deepEqual(fs.readdirSync(dir), [DB_FILE])
  })

  it("refuses a newer database whose version is still only in its WAL", (t) => {
    const dir = tempDir(t)
    const file = path.join(dir, DB_FILE)
    const newer = new Database(file)
    newer.pragma('journal_mode = WAL')
    newer.pragma('wal_autocheckpoint = 0')
    newer.exec('CREATE TABLE future (x)')
    newer.pragma('user_version = 9')
    const before = fs.readFileSync(file)
    try {
      assert.throws(() => openStore({ dataDir: dir }), (err: unknown) => err instanceof AppError && err.code === 'DB_FROM_FUTURE')
      assert.deepEqual(fs.readFileSync(file), before)
    } finally {
      newer.close()
    }
  })

  it('moves a file that is not a database aside, keeps its bytes, and starts afresh', (t) => {
    const dir = tempDir(t)
    const file = path.join(dir, DB_FILE)
    const garbage = Buffer.from('these are not the bytes of a database '.repeat(50))
    fs.writeFileSync(file, garbage)
    const store = openStore({ dataDir: dir })
    t.after(() => store.close())
    const moved = store.report.movedAside
    assert.ok(moved !== null && path.basename(moved).startsWith(`${DB_FILE}.corrupt-`))
    assert.deepEqual(fs.readFileSync(moved), garbage)
    assert.match(store.report.corruption ?? '', /not a database/)
    assert.equal(store.conversations.create({ title: 'fresh' }).title, 'fresh')
  })

  it('moves a database that fails quick_check aside together with its WAL', (t) => {
    const dir = tempDir(t)
    const file = path.join(dir, DB_FILE)
    const store = openStore({ dataDir: dir })
    const c = store.conversations.create()
    for (let i = 0; i < 300; i++) store.messages.addUser(c.id, null, `message ${i} `.repeat(40))
    store.close()
    const pageSize = 4096
    const fd = fs.openSync(file, 'r+')
    // Pages 3 to 40 hold table and index b-trees; 0xFF is never a valid page header.
    fs.writeSync(fd, Buffer.alloc(pageSize * 38, 0xff), 0, pageSize * 38, pageSize * 2)
    fs.closeSync(fd)
    fs.writeFileSync(`${file}-wal`, '')

    const reopened = openStore({ dataDir: dir })
    t.after(() => reopened.close())
    const moved = reopened.report.movedAside
    assert.ok(moved !== null)
    assert.ok(fs.existsSync(moved) && fs.existsSync(`${moved}-wal`))
    assert.ok((reopened.report.corruption ?? '').length > 0)
    assert.deepEqual(reopened.conversations.list(), [])
  })

  it('checks every page after an unclean exit and the small tables after a clean one', (t) => {
    const dir = tempDir(t)
    const first = openStore({ dataDir: dir })
    first.conversations.create()
    first.close()
    const clean = openStore({ dataDir: dir, fullCheckMaxBytes: 0 })
    assert.equal(clean.report.checked, 'small-tables')
    // While it is open, its WAL is there, as after a crash.
    const afterCrash = openStore({ dataDir: dir, fullCheckMaxBytes: 0 })
    afterCrash.close()
    clean.close()
    assert.equal(afterCrash.report.checked, 'all')
    const small = openStore({ dataDir: dir })
    t.after(() => small.close())
    assert.equal(small.report.checked, 'all')
  })

  it('finds damage to the conversations table even when only the small tables are checked', (t) => {
    const dir = tempDir(t)
    const file = path.join(dir, DB_FILE)
    const store = openStore({ dataDir: dir })
    for (let i = 0; i < 50; i++) store.conversations.create({ title: `chat ${i}` })
    store.close()
    // Read-write, so that closing it removes the WAL again: the next start counts as clean.
    const db = new Database(file)
    const { rootpage } = db.prepare(`SELECT rootpage FROM sqlite_schema WHERE name = 'conversations'`).get() as { rootpage: number }
    db.close()
    const fd = fs.openSync(file, 'r+')
    fs.writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, (rootpage - 1) * 4096)
    fs.closeSync(fd)
    const reopened = openStore({ dataDir: dir, fullCheckMaxBytes: 0 })
    t.after(() => reopened.close())
    assert.equal(reopened.report.checked, 'small-tables')
    assert.ok(reopened.report.movedAside !== null)
    assert.deepEqual(reopened.conversations.list(), [])
  })

  it('copies the database with VACUUM INTO before migrating it', (t) => {
    const dir = tempDir(t)
    const first = openStore({ dataDir: dir })
    first.conversations.create({ title: 'kept in the backup' })
    first.close()
    const latest = MIGRATIONS.length
    const next: Migration = { version: latest + 1, up: (db) => db.exec('ALTER TABLE conversations ADD COLUMN color TEXT') }
    const second = openStore({ dataDir: dir, migrations: [...MIGRATIONS, next] })
    t.after(() => second.close())
    assert.equal(second.report.migratedFrom, latest)
    assert.equal(second.report.version, latest + 1)
    const backup = second.report.backup
    assert.ok(backup !== null && path.basename(backup).startsWith(`${DB_FILE}.backup-v${latest}-`))
    const copy = rawDb(backup)
    t.after(() => copy.close())
    assert.equal(copy.pragma('user_version', { simple: true }), latest)
    assert.deepEqual(copy.prepare('SELECT title FROM conversations').all(), [{ title: 'kept in the backup' }])
  })

  it('applies all pending migrations or none, user_version included', (t) => {
    const dir = tempDir(t)
    openStore({ dataDir: dir }).close()
    const latest = MIGRATIONS.length
    const works: Migration = { version: latest + 1, up: (db) => db.exec('CREATE TABLE added_by_next (x INTEGER) STRICT') }
    const fails: Migration = {
      version: latest + 2,
      up: () => {
        throw new Error('the second failed')
      },
    }
    assert.throws(() => openStore({ dataDir: dir, migrations: [...MIGRATIONS, works, fails] }), /the second failed/)
    const db = rawDb(path.join(dir, DB_FILE))
    t.after(() => db.close())
    assert.equal(db.pragma('user_version', { simple: true }), latest)
    assert.equal(db.prepare(`SELECT 1 FROM sqlite_schema WHERE name = 'added_by_next'`).get(), undefined)
  })

  it('takes no backup of a brand-new database', (t) => {
    const store = openStore({ dataDir: tempDir(t) })
    t.after(() => store.close())
    assert.equal(store.report.backup, null)
    assert.equal(store.report.migratedFrom, 0)
  })

  it("marks replies left 'streaming' by a crash as interrupted and keeps their text", (t) => {
    const dir = tempDir(t)
    const store = openStore({ dataDir: dir })
    const c = store.conversations.create()
    const user = store.messages.addUser(c.id, null, 'question')
    const writer = store.messages.startAssistant(c.id, user.id, null)
    writer.append('half an ans')
    writer.flush()
    store.close()
    const reopened = openStore({ dataDir: dir })
    t.after(() => reopened.close())
    assert.equal(reopened.report.interrupted, 1)
    const reply = reopened.messages.get(writer.messageId)
    assert.equal(reply.status, 'interrupted')
    assert.equal(reply.content, 'half an ans')
  })
})
