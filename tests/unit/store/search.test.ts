import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { COMMON_WORD_MESSAGES, parseSnippet } from '../../../src-main/store/search.ts'
import { matchTitle, parseTerms, toFtsPhrase } from '../../../src-main/store/search-terms.ts'
import type { SearchHit } from '../../../src-shared/types.ts'
import { manualClock, tempStore } from './helpers.ts'

const messageHits = (hits: SearchHit[]) => hits.filter((h) => h.kind === 'message')

describe('Store#search', () => {
  it('finds a word in any message, best match first, with the match marked', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create({ title: 'Cooking' })
    const weak = store.messages.addUser(c.id, null, 'The recipe needs flour, sugar, eggs, butter, milk and a pinch of salt.')
    const strong = store.messages.addUser(c.id, null, 'Salt, salt and more salt.')
    store.messages.addUser(c.id, null, 'Nothing to see here.')
    const hits = messageHits(store.search('salt'))
    assert.deepEqual(
      hits.map((h) => h.messageId),
      [strong.id, weak.id],
    )
    assert.ok((hits[0]?.rank ?? 0) < (hits[1]?.rank ?? 0))
    assert.equal(hits[0]?.conversationTitle, 'Cooking')
    assert.equal(hits[0]?.conversationId, c.id)
    assert.deepEqual(hits[1]?.snippet.filter((p) => p.match).map((p) => p.text), ['salt'])
    assert.equal(hits[1]?.snippet.map((p) => p.text).join(''), 'The recipe needs flour, sugar, eggs, butter, milk and a pinch of salt.')
  })

  it('needs every word, each as the start of a word in the message', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const both = store.messages.addUser(c.id, null, 'rust borrow checker')
    store.messages.addUser(c.id, null, 'rust only')
    store.messages.addUser(c.id, null, 'a trusty checker')
    assert.deepEqual(store.search('rust che').map((h) => h.messageId), [both.id])
    assert.deepEqual(store.search('rust che*').map((h) => h.messageId), [both.id])
    assert.deepEqual(store.search('checker rust').map((h) => h.messageId), [both.id])
    assert.deepEqual(store.search('rust checkers'), [])
    assert.deepEqual(store.search('   '), [])
  })

  it('finds a word from its first letters, and marks the whole word', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const m = store.messages.addUser(c.id, null, 'Here be dragons, said the map.')
    store.messages.addUser(c.id, null, 'A snapdragon is a flower.')
    const hits = store.search('drag')
    assert.deepEqual(hits.map((h) => h.messageId), [m.id])
    assert.deepEqual(hits[0]?.snippet.filter((p) => p.match).map((p) => p.text), ['dragons'])
  })

  it('takes words in double quotes as a phrase of whole words, in that order', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const phrase = store.messages.addUser(c.id, null, 'the borrow checker again')
    store.messages.addUser(c.id, null, 'checker of the borrow')
    store.messages.addUser(c.id, null, 'the borrow checkers')
    assert.deepEqual(store.search('"borrow checker"').map((h) => h.messageId), [phrase.id])
    assert.equal(store.search('borrow checker').length, 3)
    // An unpaired quote is plain text: these are two prefixes.
    assert.equal(store.search('"borrow checker').length, 3)
  })

  it('lists hits newest first, unranked, when a word is in too many messages to rank', async (t) => {
    const store = tempStore(t)
    const messages = Array.from({ length: COMMON_WORD_MESSAGES + 1 }, (_, i) => ({
      id: `m${i}`,
      parentId: i === 0 ? null : `m${i - 1}`,
      role: 'user',
      content: i % 1000 === 0 ? `common common rare${i}` : `common word${i}`,
      status: 'complete',
      stats: null,
      modelId: null,
      error: null,
      createdAt: i,
    }))
    const conversation = { title: 'big', createdAt: 0, updatedAt: 0, modelId: null, systemPrompt: '', params: {},
      contextPolicy: 'stop', pinned: false, archived: false, activeLeafId: null, messages }
    await store.importText(JSON.stringify({ format: 'hearth-conversations', version: 1, exportedAt: 0, conversations: [conversation] }))

    const newest = messageHits(store.search('common', { limit: 3 }))
    const last = COMMON_WORD_MESSAGES
    assert.deepEqual(newest.map((h) => [h.createdAt, h.rank]), [[last, null], [last - 1, null], [last - 2, null]])
    const rare = messageHits(store.search('rare*'))
    assert.equal(rare.length, Math.floor(COMMON_WORD_MESSAGES / 1000) + 1)
    assert.ok(rare.every((h) => typeof h.rank === 'number'))
    assert.deepEqual(messageHits(store.search('rare1000 common')).map((h) => [h.createdAt, h.rank]), [[1_000, null]])
    // Just under the limit: every message but the rare ones.
    assert.equal(typeof messageHits(store.search('word*', { limit: 1 }))[0]?.rank, 'number')
  })

  it('matches across accents and case', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const m = store.messages.addUser(c.id, null, 'Un café à Genève')
    assert.deepEqual(store.search('CAFE geneve').map((h) => h.messageId), [m.id])
  })

  it('takes FTS5 operators and quotes in the query as plain text', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const m = store.messages.addUser(c.id, null, 'say "NEAR" OR not')
    const colon = store.messages.addUser(c.id, null, 'set col:x then (AND) -flag')
    store.messages.addUser(c.id, null, 'near or far')
    assert.deepEqual(store.search('"NEAR" OR not').map((h) => h.messageId), [m.id])
    assert.deepEqual(store.search('OR(not').map((h) => h.messageId), [m.id])
    assert.deepEqual(store.search('col:x (AND) -fl*').map((h) => h.messageId), [colon.id])
    assert.deepEqual(store.search('NOT say').map((h) => h.messageId), [m.id])
    for (const query of ['NEAR(', 'a AND', '"', '*', '-x', 'col:x', '^', '(((', '""""', "'", '\0', 'x NOT']) {
      assert.doesNotThrow(() => store.search(query), `query ${JSON.stringify(query)}`)
    }
  })

  it('never fails on random queries made of FTS5 syntax characters', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    store.messages.addUser(c.id, null, 'a b c NEAR AND OR NOT')
    const alphabet = ['"', "'", '*', '(', ')', ':', '^', '-', '+', ' ', 'a', 'NEAR', 'AND', 'OR', 'NOT', '\0', '\t', '{', '}']
    let seed = 1
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let i = 0; i < 300; i++) {
      const query = Array.from({ length: 1 + Math.floor(next() * 8) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('')
      assert.doesNotThrow(() => store.search(query), `query ${JSON.stringify(query)}`)
    }
  })

  it('keeps the highlight in text with NUL bytes', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    store.messages.addUser(c.id, null, 'before\0the needle\0after')
    const parts = store.search('needle')[0]?.snippet ?? []
    assert.deepEqual(parts, [
      { text: 'before the ', match: false },
      { text: 'needle', match: true },
      { text: ' after', match: false },
    ])
  })

  it('finds archived conversations but not deleted ones', (t) => {
    const store = tempStore(t)
    const archived = store.conversations.create()
    const a = store.messages.addUser(archived.id, null, 'walrus in the archive')
    store.conversations.update(archived.id, { archived: true })
    const deleted = store.conversations.create()
    store.messages.addUser(deleted.id, null, 'walrus in the bin')
    store.conversations.delete(deleted.id)
    assert.deepEqual(store.search('walrus').map((h) => h.messageId), [a.id])
  })

  it('finds a conversation by its title, first, even when no message matches', (t) => {
    const store = tempStore(t)
    const titled = store.conversations.create({ title: 'Dragon lore' })
    store.messages.addUser(titled.id, null, 'Tell me a story.')
    const other = store.conversations.create({ title: 'Stories' })
    const message = store.messages.addUser(other.id, null, 'The dragon slept.')
    store.conversations.create({ title: 'Snapdragons' })
    const hits = store.search('drag')
    assert.deepEqual(
      hits.map((h) => [h.kind, h.conversationId, h.messageId]),
      [
        ['title', titled.id, undefined],
        ['message', other.id, message.id],
      ],
    )
    assert.deepEqual(hits[0]?.snippet, [
      { text: 'Dragon', match: true },
      { text: ' lore', match: false },
    ])
    assert.deepEqual(store.search('lore drag').map((h) => h.kind), ['title'])
    assert.deepEqual(store.search('lore tell'), [])
  })

  it('lists title hits in the sidebar\'s order, and skips chats still called "New chat"', (t) => {
    const clock = manualClock()
    const store = tempStore(t, { now: clock.now })
    const older = store.conversations.create({ title: 'Newton notes' })
    clock.advance(1000)
    const newer = store.conversations.create({ title: 'Newts' })
    store.conversations.create()
    const order = () => store.search('new').map((h) => h.conversationId)
    assert.deepEqual(order(), [newer.id, older.id])
    clock.advance(1000)
    store.messages.addUser(older.id, null, 'bump')
    assert.deepEqual(order(), [older.id, newer.id])
    store.conversations.update(newer.id, { pinned: true })
    assert.deepEqual(order(), [newer.id, older.id])
  })

  it('finds archived conversations by title but not deleted ones', (t) => {
    const store = tempStore(t)
    const archived = store.conversations.create({ title: 'Walrus facts' })
    store.conversations.update(archived.id, { archived: true })
    const deleted = store.conversations.create({ title: 'Walrus jokes' })
    store.conversations.delete(deleted.id)
    assert.deepEqual(store.search('walrus').map((h) => [h.kind, h.conversationId]), [['title', archived.id]])
  })

  it('pages through title hits and message hits as one list', (t) => {
    const store = tempStore(t)
    const a = store.conversations.create({ title: 'Heron one' })
    const b = store.conversations.create({ title: 'Heron two' })
    const c = store.conversations.create({ title: 'Birds' })
    for (let i = 0; i < 3; i++) store.messages.addUser(c.id, null, `heron ${i}`)
    const all = store.search('heron')
    assert.deepEqual(all.map((h) => h.kind), ['title', 'title', 'message', 'message', 'message'])
    assert.deepEqual(new Set(all.slice(0, 2).map((h) => h.conversationId)), new Set([a.id, b.id]))
    for (const [offset, limit] of [[0, 1], [1, 2], [2, 2], [4, 5], [5, 1]] as const) {
      assert.deepEqual(store.search('heron', { offset, limit }), all.slice(offset, offset + limit), `offset ${offset}, limit ${limit}`)
    }
  })

  it('pages through hits with limit and offset', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    for (let i = 0; i < 5; i++) store.messages.addUser(c.id, null, `otter ${i}`)
    const all = store.search('otter').map((h) => h.messageId)
    assert.equal(all.length, 5)
    assert.deepEqual(store.search('otter', { limit: 2, offset: 2 }).map((h) => h.messageId), all.slice(2, 4))
  })
})

describe('messages_fts', () => {
  it('stays in step with the messages through streaming, continuing, deleting and importing', async (t) => {
    const store = tempStore(t, { undoWindowMs: 0 })
    const c = store.conversations.create()
    const q = store.messages.addUser(c.id, null, 'alpha beta')
    const writer = store.messages.startAssistant(c.id, q.id, null)
    writer.append('gamma \0 delta')
    writer.flush()
    writer.append(' epsilon')
    writer.finish({ status: 'interrupted' })
    const again = store.messages.resume(writer.messageId)
    again.append(' zeta \uD800')
    again.finish({ status: 'complete' })
    await store.importText(store.exportText('json'))
    const streaming = store.messages.startAssistant(c.id, q.id, null)
    streaming.append('still streaming')
    streaming.flush()
    const doomed = store.conversations.create()
    store.messages.addUser(doomed.id, null, 'alpha doomed')
    store.conversations.delete(doomed.id)
    store.conversations.purgeAllDeleted()

    assert.deepEqual(store.search('zeta').length, 2)
    assert.deepEqual(store.search('streaming'), [])
    streaming.finish({ status: 'complete' })
    assert.deepEqual(store.search('streaming').length, 1)
    const db = new Database(store.file)
    t.after(() => db.close())
    // rank 1: also checks the index against the rows it was built from (valid once none streams).
    assert.doesNotThrow(() => db.prepare(`INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)`).run())
  })
})

describe('parseTerms', () => {
  it('makes each word a prefix, a quoted stretch an exact phrase, and drops what is not a word', () => {
    const phrases = (input: string) => parseTerms(input).map(toFtsPhrase)
    assert.deepEqual(phrases(' Drag  "Borrow  checker" c* * '), ['"drag"*', '"borrow checker"', '"c"*'])
    assert.deepEqual(phrases("don't col:x \"a"), ['"don t"*', '"col x"*', '"a"*'])
    assert.deepEqual(phrases('Café NEAR(x) a\0b'), ['"cafe"*', '"near x"*', '"a b"*'])
    assert.deepEqual(phrases('\t\n\0 "" ( - * :'), [])
  })
})

describe('matchTitle', () => {
  it('marks every word that a term matches, and needs every term', () => {
    const terms = parseTerms('drag é')
    assert.deepEqual(matchTitle('Dragons of Éire, dragged', terms), [
      { text: 'Dragons', match: true },
      { text: ' of ', match: false },
      { text: 'Éire', match: true },
      { text: ', ', match: false },
      { text: 'dragged', match: true },
    ])
    assert.equal(matchTitle('Dragons only', terms), null)
    assert.equal(matchTitle('Snapdragon épée', terms), null)
  })

  it('matches a quoted phrase as whole words in order', () => {
    assert.equal(matchTitle('Borrow checker notes', parseTerms('"borrow checker"'))?.filter((p) => p.match).length, 2)
    assert.equal(matchTitle('Checker borrow notes', parseTerms('"borrow checker"')), null)
    assert.equal(matchTitle('Borrow checkers', parseTerms('"borrow checker"')), null)
  })
})

describe('parseSnippet', () => {
  it('splits marked text into plain and matched parts', () => {
    assert.deepEqual(parseSnippet('…x \u0002hit\u0003 y \u0002two\u0003'), [
      { text: '…x ', match: false },
      { text: 'hit', match: true },
      { text: ' y ', match: false },
      { text: 'two', match: true },
    ])
  })
})
