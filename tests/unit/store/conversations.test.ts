import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import { manualClock, rawDb, tempStore } from './helpers.ts'

const isCode = (code: string) => (err: unknown) => err instanceof AppError && err.code === code

describe('ConversationStore#list', () => {
  it('puts pinned conversations first, then the most recently updated', (t) => {
    const clock = manualClock()
    const store = tempStore(t, { now: clock.now })
    const ids: Record<string, string> = {}
    for (const title of ['old', 'pinned', 'middle', 'new']) {
      ids[title] = store.conversations.create({ title }).id
      clock.advance(1000)
    }
    store.conversations.update(ids['pinned'] ?? '', { pinned: true })
    store.messages.addUser(ids['old'] ?? '', null, 'revived')
    assert.deepEqual(
      store.conversations.list().map((c) => c.title),
      ['pinned', 'old', 'new', 'middle'],
    )
    assert.deepEqual(
      store.conversations.list({ limit: 2, offset: 1 }).map((c) => c.title),
      ['old', 'new'],
    )
  })

  it('shows archived conversations only in the archive', (t) => {
    const store = tempStore(t)
    const kept = store.conversations.create({ title: 'kept' })
    const archived = store.conversations.create({ title: 'archived' })
    store.conversations.update(archived.id, { archived: true })
    assert.deepEqual(store.conversations.list().map((c) => c.id), [kept.id])
    assert.deepEqual(store.conversations.list({ archived: true }).map((c) => c.id), [archived.id])
  })
})

describe('ConversationStore#create', () => {
  it('takes what the caller leaves out from the settings', (t) => {
    const store = tempStore(t)
    store.settings.update({ defaultModelId: 'smollm2', defaultSystemPrompt: 'Be brief.', defaultContextPolicy: 'stop' })
    const c = store.conversations.create()
    assert.deepEqual(
      [c.title, c.modelId, c.systemPrompt, c.contextPolicy, c.params, c.pinned, c.archived, c.activeLeafId],
      ['New chat', 'smollm2', 'Be brief.', 'stop', {}, false, false, null],
    )
    assert.equal(store.conversations.create({ modelId: null }).modelId, null)
  })
})

describe('ConversationStore#update', () => {
  it('changes only what the patch names, and keeps the list position', (t) => {
    const clock = manualClock()
    const store = tempStore(t, { now: clock.now })
    const c = store.conversations.create({ title: 'Draft', systemPrompt: 'keep me' })
    clock.advance(5000)
    const changed = store.conversations.update(c.id, {
      title: '  Trip plan ',
      params: { temperature: 0, stop: ['###'] },
      modelId: 'qwen',
      contextPolicy: 'truncate-middle',
    })
    assert.deepEqual(store.conversations.get(c.id), changed)
    assert.equal(changed.title, 'Trip plan')
    assert.equal(changed.systemPrompt, 'keep me')
    assert.deepEqual(changed.params, { temperature: 0, stop: ['###'] })
    assert.equal(changed.updatedAt, c.updatedAt)
  })

  it('refuses a blank title, bad parameters and an unknown context policy, changing nothing', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create({ title: 'Same' })
    assert.throws(() => store.conversations.update(c.id, { title: '   ' }), isCode('BAD_REQUEST'))
    assert.throws(() => store.conversations.update(c.id, { params: { topP: 2 } }), isCode('BAD_REQUEST'))
    assert.throws(
      () => store.conversations.update(c.id, { contextPolicy: 'forget-all' as never }),
      isCode('BAD_REQUEST'),
    )
    assert.deepEqual(store.conversations.get(c.id), c)
  })
})

describe('ConversationStore#delete', () => {
  it('hides at once and can be undone within the window', (t) => {
    const clock = manualClock()
    const store = tempStore(t, { now: clock.now, undoWindowMs: 10_000 })
    const c = store.conversations.create()
    store.messages.addUser(c.id, null, 'remember me')
    const { undoUntil } = store.conversations.delete(c.id)
    assert.equal(undoUntil, clock.now() + 10_000)
    assert.deepEqual(store.conversations.list(), [])
    assert.throws(() => store.conversations.get(c.id), isCode('NOT_FOUND'))
    assert.deepEqual(store.search('remember'), [])
    clock.advance(10_000)
    assert.equal(store.conversations.restore(c.id).id, c.id)
    assert.equal(store.messages.branch(c.id)[0]?.message.content, 'remember me')
    assert.equal(store.search('remember').length, 1)
  })

  it('purges a conversation and its messages once the window has passed', (t) => {
    const clock = manualClock()
    const store = tempStore(t, { now: clock.now, undoWindowMs: 10_000 })
    const gone = store.conversations.create()
    store.messages.addUser(gone.id, null, 'forget me')
    const other = store.conversations.create()
    store.conversations.delete(gone.id)
    clock.advance(10_001)
    assert.throws(() => store.conversations.restore(gone.id), isCode('NOT_FOUND'))
    store.conversations.delete(other.id)
    const db = rawDb(store.file)
    t.after(() => db.close())
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n
    assert.equal(count(`SELECT count(*) AS n FROM conversations WHERE id = '${gone.id}'`), 0)
    assert.equal(count(`SELECT count(*) AS n FROM messages`), 0)
    assert.equal(count(`SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH 'forget'`), 0)
    assert.equal(count(`SELECT count(*) AS n FROM conversations`), 1)
  })

  it('refuses an unknown or already deleted conversation', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    store.conversations.delete(c.id)
    assert.throws(() => store.conversations.delete(c.id), isCode('NOT_FOUND'))
    assert.throws(() => store.conversations.delete('nope'), isCode('NOT_FOUND'))
  })
})
