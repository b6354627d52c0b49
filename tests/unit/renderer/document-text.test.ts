// The chat's words for documents: badges and facts, refusals, attach progress, sources, the mode line and the prefill line.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as shared from '../../../src-shared/types.ts'
import type { BranchEntry, DocumentContext, DocumentInfo, Message } from '../../../src-shared/types.ts'
import {
  attachFraction,
  attachStep,
  documentFacts,
  documentModeLine,
  fileBadge,
  fileRefusal,
  MAX_DOCUMENT_BYTES,
  MAX_DOCUMENTS_PER_MESSAGE,
  passageLabel,
  prefillText,
} from '../../../src-renderer/lib/document-text.ts'

function doc(name: string, extra: Partial<DocumentInfo> = {}): DocumentInfo {
  return { id: 'a'.repeat(64), name, kind: 'text', mimeType: 'text/plain', bytes: 100, chars: 100, pages: null, createdAt: 0, ...extra }
}

let ids = 0
function entry(role: Message['role'], documents: DocumentInfo[] = [], documentContext: DocumentContext | null = null): BranchEntry {
  const id = `m${ids++}`
  const message: Message = { id, conversationId: 'c', parentId: null, role, content: 'x', status: 'complete', stats: null, modelId: null, error: null, createdAt: 0, documents, documentContext }
  return { message, siblingIds: [id], siblingIndex: 0 }
}

describe('the renderer copy of the document limits', () => {
  it('equals src-shared/types.ts', () => {
    assert.equal(MAX_DOCUMENT_BYTES, shared.MAX_DOCUMENT_BYTES)
    assert.equal(MAX_DOCUMENTS_PER_MESSAGE, shared.MAX_DOCUMENTS_PER_MESSAGE)
  })
})

describe('fileBadge', () => {
  it("is the file's extension in capitals, else FILE", () => {
    assert.equal(fileBadge('report.pdf'), 'PDF')
    assert.equal(fileBadge('main.test.ts'), 'TS')
    assert.equal(fileBadge('Makefile'), 'FILE')
    assert.equal(fileBadge('.bashrc'), 'FILE')
    assert.equal(fileBadge('notes.markdown'), 'FILE')
  })
})

describe('documentFacts', () => {
  it('counts pages where a document has them, then its size', () => {
    assert.equal(documentFacts({ bytes: 2048, pages: null }), '2.0 KB')
    assert.equal(documentFacts({ bytes: 2048, pages: 1 }), '1 page · 2.0 KB')
    assert.equal(documentFacts({ bytes: 3 * 1024 * 1024, pages: 1200 }), '1,200 pages · 3.0 MB')
  })
})

describe('fileRefusal', () => {
  it('refuses a file over the limit before it is read, and takes one at the limit', () => {
    assert.equal(fileRefusal({ size: MAX_DOCUMENT_BYTES }), null)
    assert.equal(fileRefusal({ size: 40 * 1024 * 1024 }), 'Too big to attach (40 MB): files can be at most 32 MB.')
    assert.match(fileRefusal({ size: MAX_DOCUMENT_BYTES + 1 }) ?? '', /^Too big/)
  })
})

describe('attachStep', () => {
  it('says what main is doing with a file, with how far it has got when it knows', () => {
    assert.equal(attachStep(null), 'Sending…')
    assert.equal(attachStep({ attachId: 'x', name: 'a.pdf', phase: 'extracting', done: 3, total: 12 }), 'Extracting 25%')
    assert.equal(attachStep({ attachId: 'x', name: 'a.pdf', phase: 'reading', done: 0, total: 0 }), 'Reading…')
    assert.equal(attachStep({ attachId: 'x', name: 'a.pdf', phase: 'indexing', done: 1, total: 2 }), 'Indexing…')
    assert.equal(attachFraction({ attachId: 'x', name: 'a.pdf', phase: 'indexing', done: 1, total: 2 }), null)
    assert.equal(attachFraction({ attachId: 'x', name: 'a.pdf', phase: 'extracting', done: 13, total: 12 }), 1)
  })
})

describe('passageLabel', () => {
  it('numbers passages from 1, as the prompt does', () => {
    assert.equal(passageLabel({ documentId: 'd', name: 'report.pdf', chunk: 3, start: 0, end: 10 }), 'report.pdf · passage 4')
  })
})

describe('documentModeLine', () => {
  it('is null while no message has settled how its documents go in', () => {
    assert.equal(documentModeLine([entry('user'), entry('assistant')]), null)
    assert.equal(documentModeLine([entry('user', [doc('a.txt')])]), null)
  })

  it('names documents read whole, and those searched for each question', () => {
    const full = entry('user', [doc('a.txt'), doc('b.ts')], { mode: 'full', reason: 'They fit.', passages: [] })
    assert.deepEqual(documentModeLine([full, entry('assistant')]), { text: 'Documents in the prompt: a.txt, b.ts', reasons: ['They fit.'] })

    const searched = entry('user', [doc('report.pdf')], { mode: 'retrieval', reason: 'Too long.', passages: [] })
    const followUp = entry('user', [], { mode: null, reason: '', passages: [{ documentId: 'd', name: 'report.pdf', chunk: 0, start: 0, end: 5 }] })
    assert.deepEqual(documentModeLine([full, entry('assistant'), searched, entry('assistant'), followUp]), {
      text: 'Documents in the prompt: a.txt, b.ts · searching report.pdf for each question',
      reasons: ['Too long.', 'They fit.'],
    })
  })

  it('names each document once and at most three', () => {
    const names = ['a', 'b', 'c', 'd', 'e'].map((n) => doc(`${n}.txt`))
    const line = documentModeLine([entry('user', [...names, doc('a.txt')], { mode: 'retrieval', reason: 'r', passages: [] })])
    assert.equal(line?.text, 'Searching a.txt, b.txt, c.txt and 2 more for each question')
  })
})

describe('prefillText', () => {
  it('gives tokens done, speed and the time left at that speed', () => {
    const progress = { conversationId: 'c', messageId: 'm', done: 1536, total: 3012, tokensPerSecond: 410 }
    assert.equal(prefillText(progress), 'Reading the prompt: 1,536 / 3,012 tokens · 410 tok/s · about 4 s left')
    assert.equal(prefillText({ ...progress, done: 0, total: 60_000, tokensPerSecond: 400 }), 'Reading the prompt: 0 / 60,000 tokens · 400 tok/s · about 3 min left')
  })

  it('leaves out speed and time before there is a speed', () => {
    assert.equal(prefillText({ conversationId: 'c', messageId: 'm', done: 0, total: 3012, tokensPerSecond: 0 }), 'Reading the prompt: 0 / 3,012 tokens')
  })
})
