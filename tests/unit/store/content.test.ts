import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { openStore } from '../../../src-main/store/store.ts'
import { seededRandom } from '../../../tools/model-builder/random.ts'
import { rawDb, tempDir, tempStore } from './helpers.ts'

/** Any UTF-16 code units, surrogates and NUL included, biased towards the awkward ones. */
function randomText(next: () => number, length: number): string {
  const units = new Uint16Array(length)
  for (let i = 0; i < length; i++) {
    const pick = next()
    if (pick < 0.15) units[i] = 0xd800 + Math.floor(next() * 0x800)
    else if (pick < 0.2) units[i] = 0
    else if (pick < 0.5) units[i] = 0x20 + Math.floor(next() * 0x60)
    else units[i] = Math.floor(next() * 0x10000)
  }
  return Buffer.from(units.buffer).toString('utf16le')
}

const CASES: [string, string][] = [
  ['emoji and joined emoji', 'Family: 👨‍👩‍👧‍👦, flags 🇫🇷🇯🇵, skin 👍🏽, math 𝔸'],
  ['a lone high surrogate', 'before \uD83D after'],
  ['a lone low surrogate at the start', '\uDE00 leads'],
  ['a reversed pair at the end', 'ends with \uDE00\uD83D'],
  ['NUL bytes', 'a\0b\0\0c\0'],
  ['SQL that looks like an attack', "'); DROP TABLE messages; -- \" OR 1=1; SELECT * FROM settings"],
  ['HTML and script', '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'],
  ['FTS5 syntax', 'NEAR(a b) OR "c" AND d* ^e'],
  ['empty text', ''],
  ['only whitespace and line ends', ' \r\n\t\u2028\u2029 '],
]

describe('message content', () => {
  for (const [name, text] of CASES) {
    it(`comes back exactly: ${name}`, (t) => {
      const dir = tempDir(t)
      const store = openStore({ dataDir: dir })
      const c = store.conversations.create()
      const user = store.messages.addUser(c.id, null, text)
      const writer = store.messages.startAssistant(c.id, user.id, null)
      writer.append(text)
      writer.finish({ status: 'complete' })
      store.close()
      const reopened = openStore({ dataDir: dir })
      t.after(() => reopened.close())
      assert.equal(reopened.messages.get(user.id).content, text)
      assert.equal(reopened.messages.get(writer.messageId).content, text)
    })
  }

  it('comes back exactly at 10 MB, typed or streamed', (t) => {
    const store = tempStore(t)
    const next = seededRandom(7)
    // Emoji, ASCII and NUL, then random code units: over 10 MB as UTF-8.
    const huge = '😀a\0'.repeat(1_200_000) + randomText(next, 1_500_000)
    assert.ok(Buffer.byteLength(huge) > 10 * 1000 * 1000)
    const c = store.conversations.create()
    const user = store.messages.addUser(c.id, null, huge)
    assert.equal(store.messages.get(user.id).content, huge)
    const writer = store.messages.startAssistant(c.id, user.id, null)
    for (let at = 0; at < huge.length; at += 1_000_003) writer.append(huge.slice(at, at + 1_000_003))
    writer.finish({ status: 'complete' })
    assert.equal(store.messages.get(writer.messageId).content, huge)
  })

  it('comes back exactly for random code units streamed in random pieces', (t) => {
    const store = tempStore(t)
    const next = seededRandom(42)
    const c = store.conversations.create()
    let parent: string | null = null
    for (let round = 0; round < 60; round++) {
      const text = randomText(next, Math.floor(next() * 300))
      const user = store.messages.addUser(c.id, parent, text)
      const writer = store.messages.startAssistant(c.id, user.id, null)
      for (let at = 0; at < text.length; ) {
        const size = 1 + Math.floor(next() * 8)
        writer.append(text.slice(at, at + size))
        if (next() < 0.5) writer.flush()
        at += size
      }
      const reply = writer.finish({ status: 'complete' })
      assert.equal(store.messages.get(user.id).content, text, `user message, round ${round}`)
      assert.equal(store.messages.get(reply.id).content, text, `streamed reply, round ${round}`)
      parent = reply.id
    }
  })

  it('keeps exact code units aside only for text with NUL or lone surrogates, and still finds its words', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const plain = store.messages.addUser(c.id, null, 'emoji 😀 only')
    const lone = store.messages.addUser(c.id, null, 'broken \uD83D surrogate')
    const nul = store.messages.addUser(c.id, null, 'nul\0surrogate')
    const db = rawDb(store.file)
    t.after(() => db.close())
    const aside = db.prepare<[string], { content: string; aside: number }>(
      'SELECT content, content_utf16 IS NOT NULL AS aside FROM messages WHERE id = ?',
    )
    assert.deepEqual(aside.get(plain.id), { content: 'emoji 😀 only', aside: 0 })
    assert.deepEqual(aside.get(lone.id), { content: 'broken \uFFFD surrogate', aside: 1 })
    assert.deepEqual(aside.get(nul.id), { content: 'nul surrogate', aside: 1 })
    assert.deepEqual(
      store.search('surrogate').map((h) => h.messageId).sort(),
      [lone.id, nul.id].sort(),
    )
  })

  it('survives a JSON export and import exactly', async (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    let parent: string | null = null
    for (const [, text] of CASES) parent = store.messages.addUser(c.id, parent, text).id
    const imported = await store.importText(store.exportText('json', [c.id]))
    const [id] = imported.conversationIds
    assert.ok(id !== undefined)
    assert.deepEqual(
      store.messages.list(id).map((m) => m.content),
      CASES.map(([, text]) => text),
    )
  })
})
