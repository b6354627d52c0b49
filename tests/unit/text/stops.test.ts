import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createRng } from '../../../src-main/engine/sampler.ts'
import type { Rng } from '../../../src-main/engine/sampler.ts'
import { StopMatcher } from '../../../src-main/engine/stops.ts'

/** The reference: stop at the first position where some stop string ends (the longest on a tie). */
function expected(text: string, stops: string[]): { text: string; stop: string | null } {
  for (let end = 1; end <= text.length; end++) {
    const head = text.slice(0, end)
    const hits = stops.filter((s) => s.length > 0 && head.endsWith(s)).sort((a, b) => b.length - a.length)
    if (hits[0] !== undefined) return { text: text.slice(0, end - hits[0].length), stop: hits[0] }
  }
  return { text, stop: null }
}

function randomSplit(text: string, rng: Rng): string[] {
  const parts: string[] = []
  let at = 0
  while (at < text.length) {
    const len = 1 + Math.floor(rng.next() * 6)
    parts.push(text.slice(at, at + len))
    at += len
  }
  return parts
}

/** Feeds the chunks; checks that nothing shown ever contains a stop string. */
function run(chunks: string[], stops: string[]): { text: string; stop: string | null } {
  const matcher = new StopMatcher(stops)
  let shown = ''
  for (const chunk of chunks) {
    const r = matcher.push(chunk)
    shown += r.text
    for (const s of stops) if (s) assert.ok(!shown.includes(s), `${JSON.stringify(s)} reached the user`)
    if (r.stopped) return { text: shown, stop: r.stop ?? null }
  }
  return { text: shown + matcher.flush(), stop: null }
}

describe('StopMatcher#push', () => {
  it('stops before a stop string split across chunks', () => {
    const m = new StopMatcher(['\nUser:'])
    assert.deepEqual(m.push('Sure.\nUs'), { text: 'Sure.', stopped: false })
    assert.deepEqual(m.push('er: next'), { text: '', stopped: true, stop: '\nUser:' })
    assert.deepEqual(m.push('more'), { text: '', stopped: true })
  })

  it('releases held text as soon as it can no longer start a stop string', () => {
    const m = new StopMatcher(['###'])
    assert.deepEqual(m.push('a ##'), { text: 'a ', stopped: false })
    assert.deepEqual(m.push(' b'), { text: '## b', stopped: false })
    assert.equal(m.flush(), '')
  })

  it('matches the one-character-at-a-time reference for random texts, stops and split points', () => {
    const rng = createRng(2024)
    const alphabet = ['a', 'b', 'c', '\n', ' ', 'é', '😀']
    const pick = (n: number): string =>
      Array.from({ length: n }, () => alphabet[Math.floor(rng.next() * alphabet.length)] as string).join('')
    for (let round = 0; round < 2000; round++) {
      const stops = Array.from({ length: 1 + Math.floor(rng.next() * 3) }, () => pick(1 + Math.floor(rng.next() * 4)))
      const text = pick(Math.floor(rng.next() * 40))
      const want = expected(text, stops)
      const got = run(randomSplit(text, rng), stops)
      assert.deepEqual(got, want, `text ${JSON.stringify(text)} stops ${JSON.stringify(stops)}`)
    }
  })

  it('picks the stop string that ends first, not the one that starts first', () => {
    assert.deepEqual(run(['xabcd'], ['abcd', 'bc']), { text: 'xa', stop: 'bc' })
    assert.deepEqual(run(['x', 'a', 'b', 'c', 'd'], ['abcd', 'bc']), { text: 'xa', stop: 'bc' })
  })

  it('passes text straight through with no stop strings, empty ones ignored', () => {
    const m = new StopMatcher(['', ''])
    assert.deepEqual(m.push('anything'), { text: 'anything', stopped: false })
    assert.equal(m.flush(), '')
  })
})

describe('StopMatcher#flush', () => {
  it('returns a held prefix of a stop string that never completed', () => {
    const m = new StopMatcher(['</answer>'])
    assert.deepEqual(m.push('42</ans'), { text: '42', stopped: false })
    assert.equal(m.flush(), '</ans')
  })
})
