// PromptLookup on hand-written token sequences: what it drafts from the context and from a
// prediction, how it finds the prediction again after an edit, and its index against a linear scan.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createRng } from '../../../../src-main/engine/sampler.ts'
import { PromptLookup, type PromptLookupOptions } from '../../../../src-main/engine/speculation/prompt-lookup.ts'

/** A lookup over `context`, all of it prompt unless said otherwise. */
function lookup(context: number[], opts: Partial<PromptLookupOptions> = {}): PromptLookup {
  return new PromptLookup({ context, replyStart: context.length, ...opts })
}

function pushAll(l: PromptLookup, tokens: number[]): PromptLookup {
  for (const t of tokens) l.push(t)
  return l
}

/** What a linear scan finds: the latest earlier occurrence of the longest suffix, copied on past the end. */
function scan(tokens: number[], k: number, minNgram = 2, maxNgram = 4): number[] | null {
  for (let n = maxNgram; n >= minNgram; n--) {
    if (tokens.length <= n) continue
    const suffix = tokens.slice(-n)
    for (let end = tokens.length - 1; end >= n; end--) {
      if (suffix.every((t, i) => tokens[end - n + i] === t)) {
        const out: number[] = []
        for (let j = 0; j < k; j++) out.push(end + j < tokens.length ? tokens[end + j]! : out[end + j - tokens.length]!)
        return out
      }
    }
  }
  return null
}

describe('PromptLookup#draft from the context', () => {
  it('drafts what followed the latest earlier occurrence of the last tokens', () => {
    const l = lookup([1, 2, 3, 4, 5, 9, 2, 3, 7, 8, 6, 2, 3])
    assert.deepEqual(l.draft(3), { tokens: [7, 8, 6], source: 'lookup' })
  })

  it('prefers the longest matching suffix to a more recent shorter one', () => {
    const l = lookup([5, 2, 3, 4, 9, 1, 2, 3, 7, 0, 5, 2, 3])
    assert.deepEqual(l.draft(3)?.tokens, [4, 9, 1])
  })

  it('never takes the suffix for its own match, and drafts nothing without a match', () => {
    assert.equal(lookup([1, 2, 3]).draft(4), null)
    assert.equal(lookup([1, 2, 3, 4, 2]).draft(4), null, 'a single token is not matched')
    assert.equal(lookup([]).draft(4), null)
  })

  it('continues a repeat that overlaps itself', () => {
    assert.deepEqual(lookup([7, 1, 2, 1, 2, 1, 2]).draft(6)?.tokens, [1, 2, 1, 2, 1, 2])
    assert.deepEqual(lookup([5, 4, 4, 4]).draft(4)?.tokens, [4, 4, 4, 4])
    assert.deepEqual(lookup([1, 2, 3, 1, 2]).draft(5)?.tokens, [3, 1, 2, 3, 1])
  })

  it('drafts at most k tokens, and nothing for k below 1', () => {
    const l = lookup([1, 2, 3, 4, 5, 6, 7, 8, 1, 2])
    assert.deepEqual(l.draft(2)?.tokens, [3, 4])
    assert.deepEqual(l.draft(1)?.tokens, [3])
    assert.equal(l.draft(0), null)
  })

  it('finds the tokens pushed after construction', () => {
    const l = lookup([1, 2, 3, 9])
    assert.equal(l.draft(2), null)
    pushAll(l, [1, 2])
    assert.deepEqual(l.draft(3)?.tokens, [3, 9, 1])
    l.push(3)
    assert.deepEqual(l.draft(2)?.tokens, [9, 1], 'the 3-gram [1, 2, 3] now matches')
  })

  it('forgets matches that truncate cut off and finds the ones they shadowed again', () => {
    const l = lookup([1, 2, 3, 5, 1, 2, 4, 6, 1, 2])
    assert.deepEqual(l.draft(3)?.tokens, [4, 6, 1])
    l.truncate(5)
    l.push(2)
    assert.deepEqual(l.draft(3)?.tokens, [3, 5, 1])

    const gone = pushAll(lookup([5, 6, 1, 2, 7]), [1, 2])
    assert.deepEqual(gone.draft(3)?.tokens, [7, 1, 2])
    gone.truncate(3)
    gone.push(2)
    assert.equal(gone.draft(3), null)
  })

  it('drafts what a linear scan finds, through random pushes and truncates', () => {
    const rng = createRng(17)
    for (let trial = 0; trial < 20; trial++) {
      const alphabet = 2 + (trial % 5)
      const tokens = Array.from({ length: 50 }, () => Math.floor(rng.next() * alphabet))
      const l = lookup([...tokens])
      for (let step = 0; step < 300; step++) {
        if (rng.next() < 0.1) {
          const length = Math.floor(rng.next() * tokens.length)
          tokens.length = length
          l.truncate(length)
        } else {
          const t = Math.floor(rng.next() * alphabet)
          tokens.push(t)
          l.push(t)
        }
        const k = 1 + Math.floor(rng.next() * 8)
        assert.deepEqual(l.draft(k)?.tokens ?? null, scan(tokens, k), `trial ${trial} step ${step}: ${tokens.join(' ')}`)
      }
    }
  })

  it('matches n-grams of the configured sizes only', () => {
    const context = [1, 2, 3, 4, 9, 9, 9, 8, 3, 4]
    assert.equal(lookup(context, { minNgram: 3 }).draft(2), null)
    assert.deepEqual(lookup(context, { minNgram: 1, maxNgram: 1 }).draft(2)?.tokens, [9, 9])
    assert.deepEqual(lookup([1, 2, 3, 4, 5, 0, 2, 3, 4, 6, 1, 2, 3, 4], { maxNgram: 3 }).draft(1)?.tokens, [6])
  })
})

describe('PromptLookup#draft from a prediction', () => {
  const PROMPT = [100, 101, 102]
  const withPrediction = (prediction: number[], context = PROMPT): PromptLookup =>
    new PromptLookup({ context, replyStart: context.length, prediction })

  it('drafts the prediction from its start before the reply has begun', () => {
    assert.deepEqual(withPrediction([1, 2, 3, 4, 5]).draft(3), { tokens: [1, 2, 3], source: 'prediction' })
  })

  it('follows the prediction while the reply copies it, then falls back to the context', () => {
    const l = withPrediction([1, 2, 3, 4, 5])
    pushAll(l, [1, 2])
    assert.deepEqual(l.draft(2)?.tokens, [3, 4])
    l.push(3)
    assert.deepEqual(l.draft(9)?.tokens, [4, 5])
    pushAll(l, [4, 5])
    assert.deepEqual(l.draft(2), null, 'the prediction is used up and the context has no match')
  })

  it('searches the prediction before the context', () => {
    const l = withPrediction([7, 1, 2, 3], [1, 2, 8, 100])
    pushAll(l, [5, 1, 2])
    assert.deepEqual(l.draft(2), { tokens: [3], source: 'prediction' })
    const none = withPrediction([9, 9, 9], [1, 2, 8, 100])
    pushAll(none, [5, 1, 2])
    assert.deepEqual(none.draft(2), { tokens: [8, 100], source: 'lookup' })
  })

  it('aligns by the reply length while the reply is too short to match', () => {
    const l = withPrediction([1, 2, 3, 4])
    l.push(9)
    assert.deepEqual(l.draft(3)?.tokens, [2, 3, 4])
    l.push(2)
    assert.deepEqual(l.draft(2)?.tokens, [3, 4], 'the reply follows the prediction from there')
  })

  it('counts reply tokens already in the context', () => {
    const l = new PromptLookup({ context: [...PROMPT, 1, 2], replyStart: PROMPT.length, prediction: [1, 2, 3, 4] })
    assert.deepEqual(l.draft(2)?.tokens, [3, 4])
  })

  const PREDICTION = [10, 11, 12, 13, 14, 15, 16, 17]
  for (const [edit, reply] of [
    ['a substitution', [10, 11, 50, 13, 14]],
    ['an insertion', [10, 11, 12, 50, 51, 52, 13, 14]],
    ['a deletion', [10, 11, 13, 14]],
  ] as const) {
    it(`finds its place in the prediction again after ${edit}`, () => {
      const l = withPrediction(PREDICTION)
      pushAll(l, [...reply])
      assert.deepEqual(l.draft(3), { tokens: [15, 16, 17], source: 'prediction' })
    })
  }

  it('finds a passage the reply goes back to, before where it left the prediction', () => {
    // The reply leaves out the first half, then adds it after the second; drafting at every step
    // as the decode loop does, so the cursor is placed again in the second half.
    const l = withPrediction([1, 2, 3, 4, 5, 6, 7, 8])
    for (const t of [5, 6, 7, 8, 9, 2, 3]) {
      l.draft(4)
      l.push(t)
    }
    assert.deepEqual(l.draft(2), { tokens: [4, 5], source: 'prediction' })
  })

  it('drafts nothing while the edited text matches neither the prediction nor the context', () => {
    const l = withPrediction(PREDICTION)
    pushAll(l, [10, 11, 50])
    assert.equal(l.draft(3), null)
    l.push(51)
    assert.equal(l.draft(3), null)
  })

  it('keeps its place in a prediction that repeats itself', () => {
    // Lines that start alike for longer than any n-gram: only the cursor tells them apart.
    const prediction = [1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 7, 0, 1, 2, 3, 4, 5, 8, 0]
    const copying = pushAll(withPrediction(prediction), prediction.slice(0, 12))
    assert.deepEqual(copying.draft(3)?.tokens, [7, 0, 1])
    // The second line edited (7 -> 9): what comes next belongs after it, not after the first line.
    const edited = pushAll(withPrediction(prediction), [...prediction.slice(0, 12), 9, 0, 1, 2, 3, 4, 5])
    assert.deepEqual(edited.draft(2)?.tokens, [8, 0])
  })

  it('steps the cursor back on truncate, and searches again when cut to before it was placed', () => {
    const prediction = [1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 7, 0, 1, 2, 3, 4, 5, 8, 0]
    const l = pushAll(withPrediction(prediction), prediction.slice(0, 19))
    l.truncate(PROMPT.length + 12)
    assert.deepEqual(l.draft(2)?.tokens, [7, 0], 'back in the second line, not the third')

    const cut = pushAll(withPrediction([1, 2, 3, 4, 5, 6]), [1, 2, 3, 9, 9])
    assert.equal(cut.draft(2), null)
    cut.truncate(PROMPT.length + 3)
    assert.deepEqual(cut.draft(2)?.tokens, [4, 5], 'found again by its last tokens [2, 3]')
  })
})
