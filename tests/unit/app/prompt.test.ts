// The prompt a generation is given and a first title.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Message } from '../../../src-shared/types.ts'
import { promptMessages, titleFrom } from '../../../src-main/app/prompt.ts'

function message(role: Message['role'], content: string): Message {
  return { id: content, conversationId: 'c', parentId: null, role, content, status: 'complete', stats: null, modelId: null, error: null, createdAt: 0 }
}

describe('promptMessages', () => {
  it('starts with the system prompt and follows the path', () => {
    const path = [message('user', 'hi'), message('assistant', 'hello'), message('user', 'more')]
    assert.deepEqual(promptMessages('Be brief.', path), [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'more' },
    ])
  })

  it('leaves out a blank system prompt and replies that failed before any text', () => {
    const path = [message('user', 'hi'), message('assistant', ''), message('user', 'again')]
    assert.deepEqual(promptMessages('  ', path), [
      { role: 'user', content: 'hi' },
      { role: 'user', content: 'again' },
    ])
  })
})

describe('titleFrom', () => {
  it('takes the first line', () => {
    assert.equal(titleFrom('  Plan a trip\nto Lisbon in May'), 'Plan a trip')
  })

  it('shortens a long line at a word and marks the cut', () => {
    const title = titleFrom('How do I write a streaming parser for server-sent events in TypeScript without a library?')
    assert.equal(title, 'How do I write a streaming parser for server-sent events in…')
  })

  it('never splits an emoji', () => {
    const title = titleFrom(`${'a'.repeat(59)}😀 tail`)
    assert.equal(title, `${'a'.repeat(59)}…`)
    assert.doesNotMatch(title, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/)
  })
})
