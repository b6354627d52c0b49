// A large import goes in slices: the event loop turns while it runs, nothing of it shows until it
// is whole, a failure or a shutdown half-way leaves nothing, and no SQLite code leaves the store.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Database, { SqliteError } from 'better-sqlite3'
import { AppError } from '../../../src-shared/errors.ts'
import type { HistoryImportProgress } from '../../../src-shared/types.ts'
import { openStore } from '../../../src-main/store/store.ts'
import { largeChatGptExport } from './fixtures/large-export.ts'
import { tempDir, tempStore } from './helpers.ts'

/** 2,000 messages: many slices of work on any machine. */
const FILE = largeChatGptExport({ conversations: 200, messagesPerConversation: 10, messageBytes: 600 })

function rowCounts(file: string): [number, number] {
  const db = new Database(file, { readonly: true })
  try {
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n
    return [n('SELECT count(*) AS n FROM conversations'), n('SELECT count(*) AS n FROM messages')]
  } finally {
    db.close()
  }
}

describe('Store#importText of a large file', () => {
  it('lets the event loop turn while it runs, and shows nothing of the import until it is whole', async (t) => {
    const store = tempStore(t)
    store.conversations.create({ title: 'Already here' })
    const seen: string[][] = []
    const ticker = setInterval(() => seen.push(store.conversations.list().map((c) => c.title)), 0)
    const progress: HistoryImportProgress[] = []
    let result
    try {
      result = await store.importText(FILE, 'conversations.json', (p) => progress.push(p))
    } finally {
      clearInterval(ticker)
    }
    assert.deepEqual([result.conversationIds.length, result.messages], [200, 2000])
    assert.ok(seen.length > 1, `the event loop turned ${seen.length} times during the import`)
    for (const titles of seen) assert.deepEqual(titles, ['Already here'])
    assert.equal(store.conversations.list().length, 201)

    const phases = progress.map((p) => p.phase)
    assert.deepEqual([...new Set(phases)], ['reading', 'writing'])
    assert.deepEqual(progress.at(-1), { fileName: 'conversations.json', phase: 'writing', done: 2000, total: 2000 })
    for (const p of progress) assert.ok(p.done <= p.total && p.total === (p.phase === 'reading' ? 200 : 2000))
  })

  it('leaves the database as it was when a write fails in a later slice', async (t) => {
    const store = tempStore(t)
    store.conversations.create({ title: 'Already here' })
    const before = rowCounts(store.file)
    const db = new Database(store.file)
    db.exec(`CREATE TRIGGER refuse_last BEFORE INSERT ON messages WHEN new.content LIKE 'c199m9 %'
      BEGIN SELECT RAISE(ABORT, 'refused by a test'); END`)
    db.close()
    let writing = 0
    await assert.rejects(
      store.importText(FILE, 'conversations.json', (p) => (writing += p.phase === 'writing' ? 1 : 0)),
      (err) => err instanceof AppError && err.code === 'IMPORT_INVALID' && /conversation 200 \("Conversation 200"\): the database refused it \(refused by a test\)/.test(err.message),
    )
    assert.ok(writing > 1, 'the failure came after earlier slices were written')
    assert.deepEqual(rowCounts(store.file), before)
    assert.deepEqual(store.search('harbour'), [])
  })

  it('leaves nothing after the store closes half-way, once it is opened again', async (t) => {
    const dataDir = tempDir(t)
    const store = openStore({ dataDir })
    const importing = store.importText(FILE, 'conversations.json', (p) => {
      if (p.phase === 'writing' && p.done > 0) store.close()
    })
    await assert.rejects(importing, (err) => err instanceof AppError && err.code === 'CANCELLED')
    assert.ok(rowCounts(store.file)[1] > 0, 'staged rows are on disk until the next start')
    const reopened = openStore({ dataDir })
    t.after(() => reopened.close())
    assert.deepEqual(rowCounts(reopened.file), [0, 0])
  })

  it('takes one import at a time', async (t) => {
    const store = tempStore(t)
    const first = store.importText(FILE, 'first.json')
    await assert.rejects(store.importText(FILE, 'second.json'), (err) => err instanceof AppError && err.code === 'CONFLICT')
    assert.equal((await first).conversationIds.length, 200)
  })
})

describe('AppError.toData', () => {
  it('keeps SQLite codes and system codes from crossing, and a full disk says so', () => {
    assert.deepEqual(AppError.toData(new SqliteError('cannot store REAL value in INTEGER column', 'SQLITE_CONSTRAINT_DATATYPE')), {
      code: 'INTERNAL',
      message: 'cannot store REAL value in INTEGER column',
    })
    assert.equal(AppError.toData(new SqliteError('database or disk is full', 'SQLITE_FULL')).code, 'DISK_FULL')
    assert.equal(AppError.toData(Object.assign(new Error('no space left'), { code: 'ENOSPC' })).code, 'DISK_FULL')
    assert.deepEqual(AppError.toData({ code: 'IMPORT_INVALID', message: 'bad file' }), { code: 'IMPORT_INVALID', message: 'bad file' })
  })
})
