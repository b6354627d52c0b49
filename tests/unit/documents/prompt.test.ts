// How documents are put before the model: whole when they fit, else passages, and the words the UI shows for each.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { answerRoom, chooseMode, documentBlock, fitPassages, withDocuments } from '../../../src-main/documents/prompt.ts'

const passage = (chunk: number, text: string) => ({ documentId: 'd'.repeat(64), name: 'report.pdf', chunk, start: 0, end: text.length, text })

describe('withDocuments', () => {
  it('leaves a message without documents or passages as it is', () => {
    assert.equal(withDocuments('What is new?', [], []), 'What is new?')
  })

  it('puts each document whole, then the passages, then the question', () => {
    const text = withDocuments('Summarise.', [{ name: 'a.md', text: '# A\nalpha' }], [passage(3, 'beta gamma')])
    assert.equal(text, '<document name="a.md">\n# A\nalpha\n</document>\n\n<passages>\n[1] report.pdf, passage 4:\nbeta gamma\n</passages>\n\nSummarise.')
  })

  it('keeps a quote or a line break in a file name from ending the tag', () => {
    assert.equal(documentBlock('x".md\nevil', 't'), '<document name="x\'.md evil">\nt\n</document>')
  })
})

describe('chooseMode', () => {
  const base = { contextLength: 8192, historyTokens: 100, room: 2048, estimated: false }

  it('puts documents whole while they fit beside the conversation and the answer', () => {
    const fits = chooseMode({ ...base, documents: [{ name: 'a.pdf', tokens: 8192 - 100 - 2048 }] })
    assert.equal(fits.mode, 'full')
    assert.match(fits.reason, /a\.pdf is 6,044 tokens; they fit in the model's context \(8,192 tokens\)/)
  })

  it('searches them from one token over, saying how much room there was', () => {
    const over = chooseMode({ ...base, documents: [{ name: 'a.pdf', tokens: 8192 - 100 - 2048 + 1 }] })
    assert.equal(over.mode, 'retrieval')
    assert.match(over.reason, /a\.pdf is 6,045 tokens; the model's context \(8,192 tokens\) leaves room for 6,044/)
  })

  it('counts several documents together and says when counts are estimates', () => {
    const two = chooseMode({ ...base, estimated: true, documents: [{ name: 'a', tokens: 3000 }, { name: 'b', tokens: 3100 }] })
    assert.equal(two.mode, 'retrieval')
    assert.match(two.reason, /^2 documents are about 6,100 tokens/)
  })

  it('never finds negative room when the conversation alone fills the context', () => {
    const full = chooseMode({ ...base, historyTokens: 9000, documents: [{ name: 'a', tokens: 1 }] })
    assert.equal(full.mode, 'retrieval')
    assert.match(full.reason, /leaves room for 0,/)
  })
})

describe('answerRoom', () => {
  it('keeps a quarter of the context, or the reply limit when that is smaller', () => {
    assert.equal(answerRoom(8192, undefined), 2048)
    assert.equal(answerRoom(8192, 300), 300)
  })

  it('keeps 256 tokens of a small context, but never more than half of it', () => {
    assert.equal(answerRoom(512, undefined), 256)
    assert.equal(answerRoom(256, undefined), 128)
  })
})

describe('fitPassages', () => {
  it('takes passages in rank order while they fit, skipping one too big for what is left', () => {
    const ranked = [{ id: 1, tokens: 500 }, { id: 2, tokens: 700 }, { id: 3, tokens: 300 }, { id: 4, tokens: 300 }]
    assert.deepEqual(fitPassages(ranked, 1100).map((p) => p.id), [1, 3, 4])
  })

  it('takes none when the budget is spent', () => {
    assert.deepEqual(fitPassages([{ tokens: 10 }], 0), [])
  })
})
