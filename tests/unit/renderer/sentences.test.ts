// Live-region announcements: a growing reply is read out sentence by sentence, never per token.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SentenceReader } from '../../../src-renderer/lib/sentences.ts'

/** Feeds `text` to a reader in pieces ending at `ends`, the last one final; returns what each read gave. */
function readInPieces(text: string, ends: number[]): string[][] {
  const reader = new SentenceReader()
  return ends.map((end) => reader.read(text.slice(0, end), end === text.length))
}

describe('SentenceReader', () => {
  it('holds back an unfinished sentence until more text or the end arrives', () => {
    const text = 'Hello there. How are you? Fine'
    assert.deepEqual(readInPieces(text, [20, 29, text.length]), [['Hello there.'], ['How are you?'], ['Fine']])
  })

  it('does not end a sentence at a decimal point or inside a word', () => {
    assert.deepEqual(new SentenceReader().read('Pi is 3.14 roughly', false), [])
  })

  it('yields the same sentences however the text was split into tokens', () => {
    const text = 'One. Two! Three? Four… Five.\n\nSix ```js\nx. y.\n``` "Seven." ````\nz.\n````` Eight...) Nine'
    const whole = new SentenceReader().read(text, true)
    assert.deepEqual(whole, ['One.', 'Two!', 'Three?', 'Four…', 'Five.', 'Six (code block) "Seven."', '(code block) Eight...)', 'Nine'])
    for (const step of [1, 2, 3, 5]) {
      const ends = Array.from({ length: Math.ceil(text.length / step) }, (_, i) => Math.min(text.length, (i + 1) * step))
      assert.deepEqual(readInPieces(text, ends).flat(), whole, `in pieces of ${step}`)
    }
  })

  it('reads a code block as one short phrase, not as its contents', () => {
    const text = 'Run this:\n\n```sh\nls -la. rm x.\n```\n\nDone.'
    assert.deepEqual(readInPieces(text, [24, 30, text.length]), [['Run this:'], [], ['(code block)', 'Done.']])
  })

  it('scans only the text that arrived since the last read', () => {
    const reader = new SentenceReader()
    let text = 'Look:\n\n```\n'
    reader.read(text, false)
    const exec = RegExp.prototype.exec
    let scanned = 0
    RegExp.prototype.exec = function (this: RegExp, input: string) {
      scanned += input.length - (this.global ? this.lastIndex : 0)
      return exec.call(this, input)
    }
    try {
      for (let i = 0; i < 200; i++) {
        text += 'let x = 1. '
        reader.read(text, false)
      }
    } finally {
      RegExp.prototype.exec = exec
    }
    assert.ok(scanned < 3 * 200 * 'let x = 1. '.length, `scanned ${scanned} characters`)
  })

  it('starts after the text a continued reply already had', () => {
    assert.deepEqual(new SentenceReader(6).read('Said. And more. Then', true), ['And more.', 'Then'])
  })

  it('strips markdown marks and link targets', () => {
    assert.deepEqual(new SentenceReader().read('**Bold** and [a link](https://x.y). ', false), ['Bold and a link.'])
  })
})
