// Live-region announcements: a growing reply is read out sentence by sentence, never per token.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { takeSentences } from '../../../src-renderer/lib/sentences.ts'

describe('takeSentences', () => {
  it('holds back an unfinished sentence until more text or the end arrives', () => {
    assert.deepEqual(takeSentences('Hello there. How are', 0, false), { sentences: ['Hello there.'], next: 12 })
    const later = takeSentences('Hello there. How are you? Fine', 12, false)
    assert.deepEqual(later.sentences, ['How are you?'])
    assert.deepEqual(takeSentences('Hello there. How are you? Fine', later.next, true).sentences, ['Fine'])
  })

  it('does not end a sentence at a decimal point or inside a word', () => {
    assert.deepEqual(takeSentences('Pi is 3.14 roughly', 0, false).sentences, [])
  })

  it('yields the same sentences however the text was split into tokens', () => {
    const text = 'One. Two! Three? Four… Five.\n\nSix'
    const whole = takeSentences(text, 0, true).sentences
    const pieces: string[] = []
    let next = 0
    for (let end = 1; end <= text.length; end++) {
      const step = takeSentences(text.slice(0, end), next, end === text.length)
      pieces.push(...step.sentences)
      next = step.next
    }
    assert.deepEqual(pieces, whole)
    assert.deepEqual(whole, ['One.', 'Two!', 'Three?', 'Four…', 'Five.', 'Six'])
  })

  it('reads a code block as one short phrase, not as its contents', () => {
    const text = 'Run this:\n\n```sh\nls -la. rm x.\n```\n\nDone.'
    const open = takeSentences(text.slice(0, 24), 0, false)
    assert.deepEqual(open.sentences, ['Run this:'])
    const { sentences } = takeSentences(text, open.next, true)
    assert.deepEqual(sentences, ['(code block)', 'Done.'])
  })

  it('strips markdown marks and link targets', () => {
    assert.deepEqual(takeSentences('**Bold** and [a link](https://x.y). ', 0, false).sentences, ['Bold and a link.'])
  })
})
