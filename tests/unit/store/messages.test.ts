import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import type { BranchEntry } from '../../../src-shared/types.ts'
import type { Store } from '../../../src-main/store/store.ts'
import { tempStore } from './helpers.ts'

function reply(store: Store, conversationId: string, parentId: string, text: string): string {
  const writer = store.messages.startAssistant(conversationId, parentId, 'model-a')
  writer.append(text)
  return writer.finish({ status: 'complete' }).id
}

/** The branch as "content siblingIndex+1/count" lines, as the UI shows it. */
function show(branch: BranchEntry[]): string[] {
  return branch.map((e) => `${e.message.content} ${e.siblingIndex + 1}/${e.siblingIds.length}`)
}

describe('MessageStore#branch', () => {
  it('is empty for a conversation without messages', (t) => {
    const store = tempStore(t)
    assert.deepEqual(store.messages.branch(store.conversations.create().id), [])
  })

  it('lists the active branch root first, each message with its siblings', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const q1 = store.messages.addUser(c.id, null, 'q1')
    const a1 = reply(store, c.id, q1.id, 'a1')
    const q2 = store.messages.addUser(c.id, a1, 'q2')
    reply(store, c.id, q2.id, 'a2')
    reply(store, c.id, q2.id, 'a2 again')
    assert.deepEqual(show(store.messages.branch(c.id)), ['q1 1/1', 'a1 1/1', 'q2 1/1', 'a2 again 2/2'])
  })

  it('starts a new branch when a message is edited, and shows it', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const q1 = store.messages.addUser(c.id, null, 'q1')
    const a1 = reply(store, c.id, q1.id, 'a1')
    const q2 = store.messages.addUser(c.id, a1, 'q2')
    reply(store, c.id, q2.id, 'a2')
    const edited = store.messages.addUser(c.id, a1, 'q2 edited')
    assert.equal(store.conversations.get(c.id).activeLeafId, edited.id)
    assert.deepEqual(show(store.messages.branch(c.id)), ['q1 1/1', 'a1 1/1', 'q2 edited 2/2'])
    const siblings = store.messages.branch(c.id)[2]?.siblingIds
    assert.deepEqual(siblings, [q2.id, edited.id])
  })

  it('keeps edits of the first message as sibling roots', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const first = store.messages.addUser(c.id, null, 'first')
    reply(store, c.id, first.id, 'answer')
    store.messages.addUser(c.id, null, 'first, edited')
    assert.deepEqual(show(store.messages.branch(c.id)), ['first, edited 2/2'])
  })
})

describe('MessageStore#switchBranch', () => {
  it('shows the newest leaf under the chosen sibling', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const q = store.messages.addUser(c.id, null, 'q')
    const a = reply(store, c.id, q.id, 'a')
    const deep = store.messages.addUser(c.id, a, 'follow-up')
    const older = reply(store, c.id, deep.id, 'older leaf')
    const other = store.messages.addUser(c.id, a, 'other follow-up')
    const newer = reply(store, c.id, other.id, 'newer leaf')
    reply(store, c.id, q.id, 'b')

    const branch = store.messages.switchBranch(c.id, a)
    assert.equal(branch.at(-1)?.message.id, newer)
    assert.deepEqual(show(branch), ['q 1/1', 'a 1/2', 'other follow-up 2/2', 'newer leaf 1/1'])
    assert.equal(store.conversations.get(c.id).activeLeafId, newer)

    assert.equal(store.messages.switchBranch(c.id, deep.id).at(-1)?.message.id, older)
    assert.deepEqual(show(store.messages.branch(c.id)), ['q 1/1', 'a 1/2', 'follow-up 1/2', 'older leaf 1/1'])
  })

  it('does not move the conversation in the list', (t) => {
    let now = 1000
    const store = tempStore(t, { now: () => now })
    const a = store.conversations.create({ title: 'a' })
    const first = store.messages.addUser(a.id, null, 'one')
    store.messages.addUser(a.id, null, 'two')
    now += 10
    store.conversations.create({ title: 'b' })
    now += 10
    store.messages.switchBranch(a.id, first.id)
    assert.deepEqual(
      store.conversations.list().map((c) => c.title),
      ['b', 'a'],
    )
  })

  it('refuses a message of another conversation', (t) => {
    const store = tempStore(t)
    const a = store.conversations.create()
    const b = store.conversations.create()
    const inB = store.messages.addUser(b.id, null, 'b')
    assert.throws(() => store.messages.switchBranch(a.id, inB.id), (err: unknown) => err instanceof AppError && err.code === 'NOT_FOUND')
  })
})

describe('MessageStore#addUser', () => {
  it('refuses a parent from another conversation', (t) => {
    const store = tempStore(t)
    const a = store.conversations.create()
    const b = store.conversations.create()
    const inB = store.messages.addUser(b.id, null, 'b')
    assert.throws(() => store.messages.addUser(a.id, inB.id, 'x'), (err: unknown) => err instanceof AppError && err.code === 'NOT_FOUND')
    assert.deepEqual(store.messages.list(a.id), [])
  })

  it('refuses a deleted conversation', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    store.conversations.delete(c.id)
    assert.throws(() => store.messages.addUser(c.id, null, 'x'), (err: unknown) => err instanceof AppError && err.code === 'NOT_FOUND')
  })
})

describe('MessageStore#resume', () => {
  it('continues an interrupted reply in place, after its text', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const q = store.messages.addUser(c.id, null, 'count')
    const first = store.messages.startAssistant(c.id, q.id, null)
    first.append('one two')
    first.finish({ status: 'interrupted' })

    const again = store.messages.resume(first.messageId)
    assert.equal(store.messages.get(first.messageId).status, 'streaming')
    again.append(' three')
    const done = again.finish({ status: 'complete' })
    assert.equal(done.id, first.messageId)
    assert.equal(done.content, 'one two three')
    assert.deepEqual(
      store.search('three').map((h) => h.messageId),
      [first.messageId],
    )
    assert.equal(store.messages.list(c.id).length, 2)
  })

  it('refuses a user message and a reply still streaming', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const q = store.messages.addUser(c.id, null, 'q')
    const writer = store.messages.startAssistant(c.id, q.id, null)
    assert.throws(() => store.messages.resume(q.id), (err: unknown) => err instanceof AppError && err.code === 'BAD_REQUEST')
    assert.throws(() => store.messages.resume(writer.messageId), (err: unknown) => err instanceof AppError && err.code === 'CONFLICT')
  })
})
