import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { AppError } from '../../../src-shared/errors.ts'
import { MAX_DOCUMENTS_PER_MESSAGE, type DocumentContext } from '../../../src-shared/types.ts'
import { splitChunks } from '../../../src-main/store/chunks.ts'
import { toDocumentQuery } from '../../../src-main/store/documents.ts'
import { MIGRATIONS } from '../../../src-main/store/migrations.ts'
import { openStore, UNSENT_DOCUMENT_MS, type Store } from '../../../src-main/store/store.ts'
import { assertIntact, manualClock, olderDb, report, tempDir, tempStore, textDocument } from './helpers.ts'

const code = (code: string) => (err: unknown) => err instanceof AppError && err.code === code

function count(store: Store, table: string): number {
  const db = new Database(store.file, { readonly: true })
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
  } finally {
    db.close()
  }
}

describe('toDocumentQuery', () => {
  it('makes any question a query of quoted words, or null when it has none worth searching', () => {
    assert.equal(toDocumentQuery(`what's "the" C++ (x)?`), '"c" OR "x"')
    assert.equal(toDocumentQuery('Summarize this'), '"summarize"')
    assert.equal(toDocumentQuery('NEAR(a b) AND col:x* ^y\0z'), '"near" OR "b" OR "col" OR "x" OR "y" OR "z"')
    assert.equal(toDocumentQuery('what is it?'), null)
    assert.equal(toDocumentQuery(' ** '), null)
  })
})

describe('DocumentStore', () => {
  it('stores a file once however often it is put, and answers each put with its name', (t) => {
    const clock = manualClock()
    const store = tempStore(t, { now: clock.now })
    const doc = textDocument('report.txt', report(4))
    const first = store.documents.put(doc)
    clock.advance(1000)
    const again = store.documents.put({ ...doc, name: 'copy of report.txt' })
    assert.deepEqual(again, { ...first, name: 'copy of report.txt' })
    assert.equal(first.createdAt, clock.now() - 1000)
    assert.deepEqual(store.documents.info(doc.id), first)
    assert.equal(count(store, 'documents'), 1)
    assert.equal(count(store, 'document_chunks'), splitChunks(doc.text).length)
  })

  it('keeps the text, and chunks that cover it, readable one by one', (t) => {
    const store = tempStore(t)
    const doc = textDocument('notes.md', `# Notes\n\n${report(5)}\n\nnul\0here, and a lone \uD83D.`)
    const info = store.documents.put({ ...doc, kind: 'markdown', pages: null })
    const { text } = store.documents.text(doc.id)
    // NUL and a lone surrogate are not kept as such, but every offset still points where it did.
    assert.equal(text, doc.text.replace('\0', ' ').replace('\uD83D', '\uFFFD'))
    assert.equal(info.chars, doc.text.length)
    const chunks = splitChunks(text)
    assert.ok(chunks.length >= 5)
    chunks.forEach(({ start, end }, i) => assert.equal(store.documents.chunkText(doc.id, i), text.slice(start, end)))
    assert.throws(() => store.documents.chunkText(doc.id, chunks.length), code('NOT_FOUND'))
    assert.throws(() => store.documents.info('0'.repeat(64)), code('NOT_FOUND'))
    assert.throws(() => store.documents.text('0'.repeat(64)), code('NOT_FOUND'))
    assert.equal(store.documents.has('0'.repeat(64)), false)
  })

  it('ranks the chunk with the rare word first, among the given documents only', (t) => {
    const store = tempStore(t)
    const a = store.documents.put(textDocument('a.txt', report(6, { 4: 'Zymurgy is the chemistry of fermentation.' })))
    const b = store.documents.put(textDocument('b.txt', report(3, { 0: 'Zymurgy again, in another file.' })))
    const hits = store.documents.search('What does the committee say about zymurgy?', [a.id], 4)
    assert.equal(hits.length, 4)
    assert.deepEqual([hits[0]?.documentId, hits[0]?.name, hits[0]?.chunk], [a.id, 'a.txt', 4])
    assert.match(hits[0]?.text ?? '', /^Zymurgy is the chemistry/)
    assert.ok(hits.every((h) => h.documentId === a.id))
    const both = store.documents.search('zymurgy', [a.id, b.id], 10)
    assert.deepEqual(both.map((h) => h.name).sort(), ['a.txt', 'b.txt'])
    for (const h of both) assert.equal(store.documents.text(h.documentId).text.slice(h.start, h.end), h.text)
  })

  it('answers a question with no matching word, or none at all, with the first chunks of each document', (t) => {
    const store = tempStore(t)
    const a = store.documents.put(textDocument('a.txt', report(3)))
    const b = store.documents.put(textDocument('b.txt', report(2, { 0: 'Second file.' })))
    for (const question of ['Summarize this', 'what is it?', '', 'xylophone']) {
      const hits = store.documents.search(question, [a.id, b.id], 3)
      assert.deepEqual(hits.map((h) => [h.name, h.chunk]), [['a.txt', 0], ['b.txt', 0], ['a.txt', 1]], question)
    }
    assert.deepEqual(store.documents.search('budget', [], 3), [])
  })

  it('survives any query syntax in a question', (t) => {
    const store = tempStore(t)
    const a = store.documents.put(textDocument('a.txt', report(3, { 1: 'C++ templates (and macros) are "fun".' })))
    const questions = [`what's "the" C++ (x)?`, '"', "''", 'AND OR NOT', 'NEAR(a b, 2)', '* ^ + -', 'text: budget', '{text}: x', ')))(((', 'a\0b', '\uD800', 'é\u0301']
    for (const question of questions) {
      const hits = store.documents.search(question, [a.id], 2)
      assert.ok(hits.length > 0 && hits.length <= 2, question)
    }
    assert.equal(store.documents.search('C++ templates', [a.id], 1)[0]?.chunk, 1)
  })

  it('sweeps documents stored before the cut-off that no message attaches, and only those', (t) => {
    const clock = manualClock()
    const dir = tempDir(t)
    const store = openStore({ dataDir: dir, now: clock.now })
    const sent = store.documents.put(textDocument('sent.txt', 'attached and sent'))
    const old = store.documents.put(textDocument('old.txt', 'attached, never sent'))
    const c = store.conversations.create()
    store.messages.addUser(c.id, null, 'see file', [{ documentId: sent.id, name: sent.name }])
    clock.advance(UNSENT_DOCUMENT_MS - 1000)
    const recent = store.documents.put(textDocument('recent.txt', 'attached a moment ago'))
    clock.advance(2000)
    assert.equal(store.documents.sweep(UNSENT_DOCUMENT_MS), 1)
    assert.deepEqual([store.documents.has(sent.id), store.documents.has(old.id), store.documents.has(recent.id)], [true, false, true])
    store.close()

    clock.advance(UNSENT_DOCUMENT_MS)
    const reopened = openStore({ dataDir: dir, now: clock.now })
    t.after(() => reopened.close())
    assert.deepEqual([reopened.documents.has(sent.id), reopened.documents.has(recent.id)], [true, false])
    assertIntact(reopened.file)
  })
})

describe('MessageStore with documents', () => {
  function twoDocuments(store: Store) {
    return [store.documents.put(textDocument('a.pdf', report(2))), store.documents.put(textDocument('b.ts', 'export const b = 1\n'))] as const
  }

  it('returns a message with its documents in order, under the names attached, from get, list and branch', (t) => {
    const store = tempStore(t)
    const [a, b] = twoDocuments(store)
    const c = store.conversations.create()
    const plain = store.messages.addUser(c.id, null, 'no files')
    const reply = store.messages.startAssistant(c.id, plain.id, null).finish({ status: 'complete', stats: null, error: null })
    const attachments = [
      { documentId: b.id, name: 'renamed.ts' },
      { documentId: a.id, name: 'a.pdf' },
      { documentId: b.id, name: 'again.ts' },
    ]
    const message = store.messages.addUser(c.id, reply.id, 'read these', attachments)
    const expected = [{ ...b, name: 'renamed.ts' }, a]
    assert.deepEqual(message.documents, expected)
    assert.deepEqual(store.messages.get(message.id).documents, expected)
    assert.deepEqual(store.messages.branch(c.id).map((e) => e.message.documents), [undefined, undefined, expected])
    assert.deepEqual(store.messages.list(c.id).map((m) => m.documents), [undefined, undefined, expected])
    assert.ok(!('documents' in store.messages.get(plain.id)))
    assert.ok(!('documentContext' in store.messages.get(plain.id)))
  })

  it('refuses too many documents or one no longer stored, and writes nothing', (t) => {
    const store = tempStore(t)
    const [a] = twoDocuments(store)
    const c = store.conversations.create()
    const first = store.messages.addUser(c.id, null, 'first')
    const tooMany = Array.from({ length: MAX_DOCUMENTS_PER_MESSAGE + 1 }, (_, i) => store.documents.put(textDocument(`${i}.txt`, `file ${i}`)))
    const gone = textDocument('gone.txt', 'never stored')
    assert.throws(
      () => store.messages.addUser(c.id, first.id, 'x', tooMany.map((d) => ({ documentId: d.id, name: d.name }))),
      code('BAD_REQUEST'),
    )
    assert.throws(
      () => store.messages.addUser(c.id, first.id, 'x', [{ documentId: a.id, name: 'a.pdf' }, { documentId: gone.id, name: 'gone.txt' }]),
      (err: unknown) => code('NOT_FOUND')(err) && /gone\.txt is no longer stored: attach it again/.test((err as Error).message),
    )
    assert.deepEqual(store.messages.list(c.id).map((m) => m.content), ['first'])
    assert.equal(store.conversations.get(c.id).activeLeafId, first.id)
    assert.equal(count(store, 'message_documents'), 0)
    const ten = tooMany.slice(0, MAX_DOCUMENTS_PER_MESSAGE).map((d) => ({ documentId: d.id, name: d.name }))
    assert.equal(store.messages.addUser(c.id, first.id, 'ten', ten).documents?.length, MAX_DOCUMENTS_PER_MESSAGE)
  })

  it('keeps a document context with its message', (t) => {
    const store = tempStore(t)
    const [a] = twoDocuments(store)
    const c = store.conversations.create()
    const m = store.messages.addUser(c.id, null, 'summarize', [{ documentId: a.id, name: 'a.pdf' }])
    const context: DocumentContext = {
      mode: 'retrieval',
      reason: 'a.pdf is 12,400 tokens; the context leaves room for 3,100.',
      passages: [{ documentId: a.id, name: 'a.pdf', chunk: 1, start: 950, end: 1900 }],
    }
    store.messages.setDocumentContext(m.id, context)
    assert.deepEqual(store.messages.get(m.id).documentContext, context)
    assert.deepEqual(store.messages.branch(c.id)[0]?.message.documentContext, context)
    assert.deepEqual(store.messages.list(c.id)[0]?.documentContext, context)
    assert.throws(() => store.messages.setDocumentContext('no-such-message', context), code('NOT_FOUND'))
  })

  it('deletes a document with the last conversation that attaches it, once purged', (t) => {
    const clock = manualClock()
    const store = tempStore(t, { now: clock.now })
    const [shared, own] = twoDocuments(store)
    const kept = store.conversations.create()
    store.messages.addUser(kept.id, null, 'shared', [{ documentId: shared.id, name: 'a.pdf' }])
    const gone = store.conversations.create()
    const q = store.messages.addUser(gone.id, null, 'both', [{ documentId: shared.id, name: 'a.pdf' }, { documentId: own.id, name: 'b.ts' }])
    store.messages.addUser(gone.id, q.id, 'own again', [{ documentId: own.id, name: 'b.ts' }])

    store.conversations.delete(gone.id)
    assert.ok(store.documents.has(own.id), 'kept while the delete can be undone')
    clock.advance(60_000)
    store.conversations.purgeExpired()
    assert.deepEqual([store.documents.has(shared.id), store.documents.has(own.id)], [true, false])
    assert.equal(count(store, 'document_chunks'), splitChunks(store.documents.text(shared.id).text).length)
    assert.equal(count(store, 'message_documents'), 1)
    assertIntact(store.file)
  })
})

describe('Migration to schema 3', () => {
  it('brings a version 2 history to documents with its messages as they were', (t) => {
    const dir = tempDir(t)
    const db = olderDb(dir, 2)
    db.prepare(`INSERT INTO conversations (id, title, created_at, updated_at, model_id, system_prompt, params, context_policy,
      pinned, archived, active_leaf_id) VALUES ('c', 'Old chat', 1, 2, NULL, '', '{}', 'stop', 0, 0, 'm2')`).run()
    const insert = db.prepare(`INSERT INTO messages (id, conversation_id, parent_id, role, content, status, created_at)
      VALUES (?, 'c', ?, ?, ?, 'complete', 1)`)
    insert.run('m1', null, 'user', 'an old question')
    insert.run('m2', 'm1', 'assistant', 'an old answer')
    db.close()

    const store = openStore({ dataDir: dir })
    t.after(() => store.close())
    assert.deepEqual([store.report.migratedFrom, store.report.version], [2, MIGRATIONS.length])
    assert.ok(store.report.backup !== null)
    const branch = store.messages.branch('c').map((e) => e.message)
    assert.deepEqual(branch.map((m) => [m.id, m.content, m.documents, m.documentContext]), [
      ['m1', 'an old question', undefined, undefined],
      ['m2', 'an old answer', undefined, undefined],
    ])
    assert.equal(store.search('question')[0]?.messageId, 'm1')
    const a = store.documents.put(textDocument('a.txt', 'new file'))
    const m3 = store.messages.addUser('c', 'm2', 'a new question', [{ documentId: a.id, name: 'a.txt' }])
    assert.deepEqual(store.messages.get(m3.id).documents, [a])
    assertIntact(store.file)
  })
})
