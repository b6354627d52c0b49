// Export and import of attached documents: the Hearth JSON file carries each message's documents
// by id and each document once; Markdown names them.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { AppError } from '../../../src-shared/errors.ts'
import type { DocumentContext, DocumentInfo } from '../../../src-shared/types.ts'
import { HEARTH_EXPORT_VERSION } from '../../../src-main/store/export.ts'
import type { Store } from '../../../src-main/store/store.ts'
import { assertIntact, report, tempStore, textDocument } from './helpers.ts'

function counts(store: Store): Record<string, number> {
  const db = new Database(store.file, { readonly: true })
  try {
    const n = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
    return Object.fromEntries(['conversations', 'messages', 'documents', 'document_chunks', 'message_documents'].map((t) => [t, n(t)]))
  } finally {
    db.close()
  }
}

/** Two conversations attaching two documents between them, one under two names, with a settled context. */
function withDocuments(store: Store): { ids: string[]; a: DocumentInfo; b: DocumentInfo; context: DocumentContext } {
  const a = store.documents.put({ ...textDocument('a.pdf', report(4, { 2: 'Zymurgy.' })), kind: 'pdf', mimeType: 'application/pdf', pages: 3 })
  const b = store.documents.put(textDocument('b.ts', 'export const b = 1\n'))
  const first = store.conversations.create({ title: 'Reading' })
  const q1 = store.messages.addUser(first.id, null, 'read these', [
    { documentId: a.id, name: 'report (final).pdf' },
    { documentId: b.id, name: 'b.ts' },
  ])
  const context: DocumentContext = {
    mode: 'retrieval',
    reason: 'report (final).pdf is 12,400 tokens.',
    passages: [{ documentId: a.id, name: 'report (final).pdf', chunk: 2, start: 1900, end: 2850 }],
  }
  store.messages.setDocumentContext(q1.id, context)
  const r1 = store.messages.startAssistant(first.id, q1.id, null).finish({ status: 'complete', stats: null, error: null })
  store.messages.addUser(first.id, r1.id, 'and this one again', [{ documentId: b.id, name: 'b-copy.ts' }])
  const second = store.conversations.create({ title: 'Again' })
  store.messages.addUser(second.id, null, 'same file', [{ documentId: a.id, name: 'a.pdf' }])
  return { ids: [first.id, second.id], a, b, context }
}

/** Each conversation's messages without ids: content, documents and contexts. */
function shape(store: Store, ids: readonly string[]): unknown {
  return ids.map((id) => store.messages.list(id).map(({ content, documents, documentContext }) => ({ content, documents, documentContext })))
}

interface ExportFile {
  version: number
  conversations: { messages: Record<string, unknown>[] }[]
  documents: Record<string, unknown>[]
}

const isInvalid = (pattern: RegExp) => (err: unknown) => err instanceof AppError && err.code === 'IMPORT_INVALID' && pattern.test(err.message)

describe('Store JSON export with documents', () => {
  it('names each message’s documents by id and carries each document once, with its text', (t) => {
    const store = tempStore(t)
    const { ids, a, b } = withDocuments(store)
    const file = JSON.parse(store.exportText('json', ids)) as ExportFile
    assert.equal(file.version, HEARTH_EXPORT_VERSION)
    assert.deepEqual(file.conversations[0]?.messages[0]?.['documents'], [{ id: a.id, name: 'report (final).pdf' }, { id: b.id, name: 'b.ts' }])
    assert.equal(file.conversations[0]?.messages[1]?.['documents'], undefined)
    assert.deepEqual(file.documents, [
      { ...a, text: store.documents.text(a.id).text },
      { ...b, text: store.documents.text(b.id).text },
    ])
  })

  it('imports back as the same documents, links and contexts, into a store with none', async (t) => {
    const source = tempStore(t)
    const { ids, a } = withDocuments(source)
    const target = tempStore(t)
    const result = await target.importText(source.exportText('json', ids), 'history.json')
    assert.deepEqual(shape(target, result.conversationIds), shape(source, ids))
    assert.deepEqual(target.documents.text(a.id), source.documents.text(a.id))
    assert.equal(target.documents.chunkText(a.id, 2), source.documents.chunkText(a.id, 2))
    assert.deepEqual(counts(target), counts(source))
    assertIntact(target.file)
  })

  it('keeps a document already stored as it is, and stores it once however often it is imported', async (t) => {
    const source = tempStore(t)
    const { ids, a } = withDocuments(source)
    const json = source.exportText('json', ids)
    const target = tempStore(t)
    const before = target.documents.put({ ...textDocument('mine.pdf', source.documents.text(a.id).text), id: a.id })
    await target.importText(json)
    await target.importText(json)
    assert.deepEqual(target.documents.info(a.id), before)
    assert.deepEqual(counts(target), { conversations: 4, messages: 8, documents: 2, document_chunks: counts(source).document_chunks, message_documents: 8 })
    assertIntact(target.file)
  })

  it('still imports a version 1 export, which has no documents', async (t) => {
    const store = tempStore(t)
    const v1 = {
      format: 'hearth-conversations',
      version: 1,
      exportedAt: 0,
      conversations: [{ title: 'old', createdAt: 1, updatedAt: 1, modelId: null, systemPrompt: '', params: {}, contextPolicy: 'stop', pinned: false, archived: false, activeLeafId: null,
        messages: [{ id: 'm', parentId: null, role: 'user', content: 'hello', status: 'complete', stats: null, modelId: null, error: null, createdAt: 1 }] }],
    }
    const result = await store.importText(JSON.stringify(v1))
    assert.deepEqual(store.messages.list(result.conversationIds[0] ?? '').map((m) => [m.content, m.documents]), [['hello', undefined]])
  })
})

describe('Store import of a bad file with documents', () => {
  const source = (t: Parameters<typeof tempStore>[0]) => {
    const store = tempStore(t)
    const { ids } = withDocuments(store)
    return JSON.parse(store.exportText('json', ids)) as ExportFile
  }
  const cases: [string, (file: ExportFile) => void, RegExp][] = [
    ['a message attaching a document not in the file', (f) => f.documents.shift(), /conversation 1 \("Reading"\): message \S+ attaches document [0-9a-f]{64} \("report \(final\)\.pdf"\), which is not in the file/],
    ['a document id that is no sha256', (f) => (f.documents[1]!['id'] = 'B'.repeat(64)), /documents\.1\.id: must be a sha256/],
    ['a document of an unknown kind', (f) => (f.documents[0]!['kind'] = 'exe'), /documents\.0\.kind/],
    ['a document twice', (f) => f.documents.push(f.documents[0]!), /document [0-9a-f]{64} appears twice/],
    ['a message attaching a document twice', (f) => {
      const documents = f.conversations[0]!.messages[0]!['documents'] as unknown[]
      documents.push(documents[0])
    }, /attaches document [0-9a-f]{64} twice/],
    ['a passage of a document the conversation does not attach', (f) => {
      const context = f.conversations[0]!.messages[0]!['documentContext'] as DocumentContext
      context.passages[0]!.documentId = 'f'.repeat(64)
    }, /quotes document f{64}, which no message of the conversation attaches/],
  ]
  for (const [name, spoil, pattern] of cases) {
    it(`names the problem and imports nothing: ${name}`, async (t) => {
      const file = source(t)
      spoil(file)
      const store = tempStore(t)
      const before = counts(store)
      await assert.rejects(store.importText(JSON.stringify(file), 'upload.json'), isInvalid(pattern))
      assert.deepEqual(counts(store), before)
    })
  }

  it('leaves no document behind when a later write fails, and keeps those other messages attach', async (t) => {
    const file = source(t)
    const store = tempStore(t)
    const kept = store.documents.put(textDocument('b.ts', 'export const b = 1\n'))
    const c = store.conversations.create()
    store.messages.addUser(c.id, null, 'mine', [{ documentId: kept.id, name: 'b.ts' }])
    const before = counts(store)
    const db = new Database(store.file)
    db.exec(`CREATE TRIGGER refuse_boom BEFORE INSERT ON messages WHEN new.content = 'same file'
      BEGIN SELECT RAISE(ABORT, 'disk said no'); END`)
    db.close()
    await assert.rejects(store.importText(JSON.stringify(file)), /disk said no/)
    assert.deepEqual(counts(store), before)
    assert.ok(store.documents.has(kept.id))
    assertIntact(store.file)
  })
})

describe('Store Markdown export with documents', () => {
  it('names a message’s attachments, not their text', (t) => {
    const store = tempStore(t)
    const { ids } = withDocuments(store)
    const md = store.exportText('markdown', ids)
    assert.match(md, /## User\n\nAttached: report \(final\)\.pdf, b\.ts\n\nread these\n/)
    assert.match(md, /## User\n\nAttached: b-copy\.ts\n\nand this one again\n/)
    assert.ok(!md.includes('committee'))
  })
})
