import assert from 'node:assert/strict'
import { describe, it, mock } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import type { GenerationStats } from '../../../src-shared/types.ts'
import { FLUSH_INTERVAL_MS } from '../../../src-main/store/stream-writer.ts'
import { rawDb, tempStore } from './helpers.ts'

const STATS: GenerationStats = {
  promptTokens: 12,
  reusedTokens: 8,
  prefillMs: 40,
  prefillTokensPerSecond: 100,
  ttftMs: 45,
  decodeTokensPerSecond: 20,
  generatedTokens: 3,
  stopReason: 'eos',
  provider: 'cpu',
}

describe('StreamWriter', () => {
  it('writes what was appended once the flush interval has passed, not before', (t) => {
    mock.timers.enable({ apis: ['setTimeout'] })
    t.after(() => mock.timers.reset())
    const store = tempStore(t)
    const c = store.conversations.create()
    const user = store.messages.addUser(c.id, null, 'hi')
    const writer = store.messages.startAssistant(c.id, user.id, 'model-a')
    const onDisk = () => store.messages.get(writer.messageId).content

    writer.append('Hel')
    mock.timers.tick(FLUSH_INTERVAL_MS / 2)
    writer.append('lo')
    mock.timers.tick(FLUSH_INTERVAL_MS / 2 - 1)
    assert.equal(onDisk(), '')
    mock.timers.tick(1)
    assert.equal(onDisk(), 'Hello')
    assert.equal(writer.flushedLength, 5)

    writer.append(', world')
    mock.timers.tick(FLUSH_INTERVAL_MS)
    assert.equal(onDisk(), 'Hello, world')
    assert.equal(store.messages.get(writer.messageId).status, 'streaming')
  })

  it('writes the rest with the status, stats and error when finished', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const user = store.messages.addUser(c.id, null, 'hi')
    const writer = store.messages.startAssistant(c.id, user.id, 'model-a')
    writer.append('partial')
    const message = writer.finish({ status: 'error', stats: STATS, error: 'engine crashed' })
    assert.deepEqual(store.messages.get(writer.messageId), message)
    assert.equal(message.content, 'partial')
    assert.equal(message.status, 'error')
    assert.deepEqual(message.stats, STATS)
    assert.equal(message.error, 'engine crashed')
    assert.equal(message.modelId, 'model-a')
    assert.throws(() => writer.append('more'), (err: unknown) => err instanceof AppError && err.code === 'CONFLICT')
  })

  it('holds half a surrogate pair back until its other half arrives', (t) => {
    mock.timers.enable({ apis: ['setTimeout'] })
    t.after(() => mock.timers.reset())
    const store = tempStore(t)
    const c = store.conversations.create()
    const writer = store.messages.startAssistant(c.id, null, null)
    writer.append('smile \uD83D')
    mock.timers.tick(FLUSH_INTERVAL_MS)
    assert.equal(store.messages.get(writer.messageId).content, 'smile ')
    writer.append('\uDE00!')
    writer.finish({ status: 'complete' })
    const db = rawDb(store.file)
    t.after(() => db.close())
    const row = db.prepare('SELECT content, content_utf16 FROM messages WHERE id = ?').get(writer.messageId)
    assert.deepEqual(row, { content: 'smile 😀!', content_utf16: null })
  })

  it('adds a reply to the search index only when it is finished', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const writer = store.messages.startAssistant(c.id, null, null)
    writer.append('zebras graze')
    writer.flush()
    assert.deepEqual(store.search('zebras'), [])
    writer.finish({ status: 'complete' })
    assert.deepEqual(
      store.search('zebras').map((h) => h.messageId),
      [writer.messageId],
    )
  })

  it('reports a reply whose conversation was purged on the next append', (t) => {
    mock.timers.enable({ apis: ['setTimeout'] })
    t.after(() => mock.timers.reset())
    const store = tempStore(t, { undoWindowMs: 0 })
    const c = store.conversations.create()
    const writer = store.messages.startAssistant(c.id, null, null)
    writer.append('one')
    store.conversations.delete(c.id)
    store.conversations.purgeAllDeleted()
    mock.timers.tick(FLUSH_INTERVAL_MS)
    assert.throws(() => writer.append('two'), (err: unknown) => err instanceof AppError && err.code === 'NOT_FOUND')
  })

  it('moves its conversation to the top of the list when it finishes', (t) => {
    let now = 1000
    const store = tempStore(t, { now: () => now })
    const a = store.conversations.create({ title: 'a' })
    now += 1
    const b = store.conversations.create({ title: 'b' })
    now += 1
    const writer = store.messages.startAssistant(a.id, null, null)
    now += 1
    store.conversations.touch(b.id, null)
    now += 1
    writer.finish({ status: 'complete' })
    assert.deepEqual(
      store.conversations.list().map((c) => c.title),
      ['a', 'b'],
    )
  })
})
