// JsonCursor reads a text item by item and accepts exactly what JSON.parse accepts, with the same
// values: checked on seeded random documents full of quotes, escapes and brackets inside strings,
// and on each of them broken by one edit.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { JsonCursor } from '../../../src-main/store/json-items.ts'

/** mulberry32: the same documents on every run. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const PIECES = ['a', ' ', '"', '\\', '\\"', '[', ']', '{', '}', ',', ':', '\n', 'é', '😀', '\uD800', '\u0001', 'true']

function value(next: () => number, depth: number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!
  const kind = depth > 3 ? next() * 4 : next() * 6
  if (kind < 1) return pick([0, -1.5e-7, 42, 1e21, true, false, null])
  if (kind < 4) return Array.from({ length: Math.floor(next() * 6) }, () => pick(PIECES)).join('')
  if (kind < 5) return Array.from({ length: Math.floor(next() * 5) }, () => value(next, depth + 1))
  return Object.fromEntries(Array.from({ length: Math.floor(next() * 5) }, (_, i) => [`${pick(PIECES)}${i}`, value(next, depth + 1)]))
}

/** The whole text through the cursor: the outer array's or object's items one at a time. */
function readWhole(text: string): unknown {
  const cursor = new JsonCursor(text)
  const c = cursor.peek()
  let whole: unknown
  if (c === '[' || c === '{') {
    const items: unknown[] = []
    const members = new Map<string, unknown>()
    cursor.enter()
    for (let item = cursor.next(); item !== false; item = cursor.next()) {
      if (item.key === null) items.push(cursor.value())
      else members.set(item.key, cursor.value())
    }
    whole = c === '[' ? items : Object.fromEntries(members)
  } else {
    whole = cursor.value()
  }
  cursor.end()
  return whole
}

function outcome(read: () => unknown): { value: unknown } | { error: true } {
  try {
    return { value: read() }
  } catch {
    return { error: true }
  }
}

const EDITS = ['', ',', ']', '}', '"', ':', '[', '{', ' ', '\\', '1', 'x']

describe('JsonCursor', () => {
  it('reads random documents item by item to the values JSON.parse gives', () => {
    const next = random(7)
    for (let run = 0; run < 400; run++) {
      const doc = next() < 0.5 ? [value(next, 0), value(next, 1)] : { first: value(next, 1), conversations: [value(next, 1)] }
      const text = JSON.stringify(doc, null, run % 3 === 0 ? 2 : undefined)
      assert.deepEqual(readWhole(text), JSON.parse(text), text)
    }
  })

  it('refuses a document broken by one edit exactly when JSON.parse does, and agrees on the rest', () => {
    const next = random(11)
    let refused = 0
    for (let run = 0; run < 3000; run++) {
      const text = JSON.stringify([value(next, 1), { k: value(next, 2) }])
      const at = Math.floor(next() * (text.length + 1))
      const edit = EDITS[Math.floor(next() * EDITS.length)]!
      const broken = text.slice(0, at) + edit + text.slice(at + (next() < 0.5 ? 1 : 0))
      const expected = outcome(() => JSON.parse(broken))
      assert.deepEqual(outcome(() => readWhole(broken)), expected, broken)
      if ('error' in expected) refused += 1
    }
    assert.ok(refused > 1000, `only ${refused} edits broke the document`)
  })

  it('refuses what sits between items when it is not JSON', () => {
    for (const text of ['[1,]', '[,1]', '[1 2]', '{"a" 1}', '{"a":1,}', '{1:2}', '[1}', '{"a":[1}}', '[1] x', '[1', '["a]', '', '[1,,2]']) {
      assert.throws(() => readWhole(text), Error, text)
      assert.throws(() => JSON.parse(text), SyntaxError, text)
    }
  })
})
