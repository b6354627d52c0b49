import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import type { BranchEntry } from '../../../src-shared/types.ts'
import type { Store } from '../../../src-main/store/store.ts'
import { assertIntact, manualClock, report, tempStore, textDocument } from './helpers.ts'

const UNDO_MS = 30_000

function reply(store: Store, conversationId: string, parentId: string, text: string): string {
  const writer = store.messages.startAssistant(conversationId, parentId, 'model-a')
  writer.append(text)
  return writer.finish({ status: 'complete' }).id
}

function show(branch: BranchEntry[]): string[] {
  return branch.map((e) => `${e.message.content} ${e.siblingIndex + 1}/${e.siblingIds.length}`)
}

function contents(store: Store, conversationId: string): string[] {
  return store.messages.list(conversationId).map((m) => m.content)
}

/** q1 → a1 → q2 → (a2, a2b): a1's subtree has a branch the deletion must take too. */
function twoBranches(store: Store) {
  const c = store.conversations.create()
  const q1 = store.messages.addUser(c.id, null, 'q1 alpha')
  const a1 = reply(store, c.id, q1.id, 'a1 bravo')
  const q2 = store.messages.addUser(c.id, a1, 'q2 charlie')
  const a2 = reply(store, c.id, q2.id, 'a2 delta')
  const a2b = reply(store, c.id, q2.id, 'a2b echo')
  return { c, q1, a1, q2, a2, a2b }
}

describe('MessageRemoval#remove', () => {
  it('removes the message and every branch below it, and shows its parent', (t) => {
    const store = tempStore(t)
    const { c, q1, a1 } = twoBranches(store)
    store.removal.remove(a1)
    assert.deepEqual(contents(store, c.id), ['q1 alpha'])
    assert.deepEqual(show(store.messages.branch(c.id)), ['q1 alpha 1/1'])
    assert.equal(store.conversations.get(c.id).activeLeafId, q1.id)
    assert.throws(() => store.messages.switchBranch(c.id, a1), (err: unknown) => err instanceof AppError && err.code === 'NOT_FOUND')
  })

  it('moves the active branch to the newest sibling left', (t) => {
    const store = tempStore(t)
    const { c, a2, a2b } = twoBranches(store)
    const { branch } = store.removal.remove(a2b)
    assert.deepEqual(show(branch), ['q1 alpha 1/1', 'a1 bravo 1/1', 'q2 charlie 1/1', 'a2 delta 1/1'])
    assert.equal(store.conversations.get(c.id).activeLeafId, a2)
  })

  it('leaves the active branch alone when the message is on another', (t) => {
    const store = tempStore(t)
    const { c, a2, a2b } = twoBranches(store)
    store.removal.remove(a2)
    assert.equal(store.conversations.get(c.id).activeLeafId, a2b)
    assert.deepEqual(show(store.messages.branch(c.id)).at(-1), 'a2b echo 1/1')
  })

  it('shows the newest root left when a first message goes, and nothing when none is left', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const first = store.messages.addUser(c.id, null, 'first')
    reply(store, c.id, first.id, 'answer')
    const second = store.messages.addUser(c.id, null, 'first, edited')
    assert.deepEqual(show(store.removal.remove(second.id).branch), ['first 1/1', 'answer 1/1'])
    assert.deepEqual(store.removal.remove(first.id).branch, [])
    assert.deepEqual(store.messages.branch(c.id), [])
    store.messages.addUser(c.id, null, 'a fresh start')
    assert.deepEqual(show(store.messages.branch(c.id)), ['a fresh start 1/1'])
  })

  it('takes a reply\'s tool results with it', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const q = store.messages.addUser(c.id, null, 'weather?')
    const call = reply(store, c.id, q.id, '')
    store.messages.setToolCalls(call, [{ id: 'call-1', name: 'weather', arguments: '{}' }])
    const tool = store.messages.addTool(c.id, call, { callId: 'call-1', name: 'weather', server: 's', arguments: '{}', state: 'running', durationMs: null })
    store.messages.finishTool(tool.id, { status: 'complete', content: 'sunny', error: null, tool: { ...tool.tool!, state: 'done', durationMs: 5 } })
    reply(store, c.id, tool.id, 'It is sunny.')
    store.removal.remove(call)
    assert.deepEqual(store.messages.list(c.id).map((m) => m.role), ['user'])
  })

  it('refuses while a reply below is being written, changing nothing', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const q = store.messages.addUser(c.id, null, 'q')
    const writer = store.messages.startAssistant(c.id, q.id, 'model-a')
    assert.throws(() => store.removal.remove(q.id), (err: unknown) => err instanceof AppError && err.code === 'CONFLICT')
    assert.equal(store.messages.list(c.id).length, 2)
    writer.finish({ status: 'complete' })
  })

  it('hides the removed messages from search and export, and keeps the index intact', (t) => {
    const store = tempStore(t)
    const { c, a1 } = twoBranches(store)
    assert.equal(store.search('delta').length, 1)
    store.removal.remove(a1)
    assert.deepEqual(store.search('delta'), [])
    assert.deepEqual(store.search('bravo'), [])
    assert.equal(store.search('alpha').length, 1)
    const exported = JSON.parse(store.exportText('json')) as { conversations: { id: string; messages: unknown[] }[] }
    assert.deepEqual(exported.conversations.map((e) => [e.id, e.messages.length]), [[c.id, 1]])
    assertIntact(store.file)
  })
})

describe('MessageRemoval#restore', () => {
  it('brings every branch back and shows the one that was active', (t) => {
    const store = tempStore(t)
    const { c, a1, a2b } = twoBranches(store)
    const before = store.messages.list(c.id)
    store.removal.remove(a1)
    const branch = store.removal.restore(a1)
    assert.deepEqual(show(branch), ['q1 alpha 1/1', 'a1 bravo 1/1', 'q2 charlie 1/1', 'a2b echo 2/2'])
    assert.equal(store.conversations.get(c.id).activeLeafId, a2b)
    assert.deepEqual(store.messages.list(c.id), before)
    assert.equal(store.search('delta').length, 1)
    assertIntact(store.file)
  })

  it('restores a branch beside one sent since, and only once', (t) => {
    const store = tempStore(t)
    const { c, q1, a1 } = twoBranches(store)
    store.removal.remove(a1)
    const again = reply(store, c.id, q1.id, 'a1 again')
    store.removal.restore(a1)
    assert.deepEqual(show(store.messages.branch(c.id)).slice(0, 2), ['q1 alpha 1/1', 'a1 bravo 1/2'])
    assert.deepEqual(store.messages.branch(c.id)[1]?.siblingIds, [a1, again])
    assert.throws(() => store.removal.restore(a1), (err: unknown) => err instanceof AppError && err.code === 'NOT_FOUND')
  })

  it('refuses once the window has passed, and the purge then releases documents only the removed messages attached', (t) => {
    const clock = manualClock()
    const store = tempStore(t, { now: clock.now, undoWindowMs: UNDO_MS })
    const shared = store.documents.put(textDocument('shared.txt', report(2)))
    const own = store.documents.put(textDocument('own.txt', report(3, { 1: 'Zymurgy only here.' })))
    const c = store.conversations.create()
    const q1 = store.messages.addUser(c.id, null, 'read this', [{ documentId: shared.id, name: shared.name }])
    const a1 = reply(store, c.id, q1.id, 'read')
    const q2 = store.messages.addUser(c.id, a1, 'and these', [{ documentId: shared.id, name: 'again.txt' }, { documentId: own.id, name: own.name }])
    reply(store, c.id, q2.id, 'done')

    store.removal.remove(q2.id)
    assert.deepEqual([store.documents.has(shared.id), store.documents.has(own.id)], [true, true], 'kept for the undo')
    clock.advance(UNDO_MS + 1)
    assert.throws(() => store.removal.restore(q2.id), (err: unknown) => err instanceof AppError && err.code === 'NOT_FOUND')
    assert.equal(store.conversations.purgeExpired(), 1)
    assert.deepEqual([store.documents.has(shared.id), store.documents.has(own.id)], [true, false])
    assert.deepEqual(contents(store, c.id), ['read this', 'read'])
    assertIntact(store.file)
  })

  it('purges a removed chain deeper than SQLite\'s 1000 trigger levels, and a deleted conversation as deep', (t) => {
    const clock = manualClock()
    const store = tempStore(t, { now: clock.now, undoWindowMs: UNDO_MS })
    const chain = (conversationId: string): string[] => {
      const ids: string[] = []
      for (let i = 0; i < 1100; i++) ids.push(store.messages.addUser(conversationId, ids.at(-1) ?? null, `m${i}`).id)
      return ids
    }
    const kept = store.conversations.create()
    const ids = chain(kept.id)
    const gone = store.conversations.create()
    chain(gone.id)
    store.removal.remove(ids[1]!)
    store.conversations.delete(gone.id)
    clock.advance(UNDO_MS + 1)
    assert.equal(store.conversations.purgeExpired(), 2)
    assert.deepEqual(contents(store, kept.id), ['m0'])
    assertIntact(store.file)
  })

  it('refuses when the message it answered was removed meanwhile, until that one is restored', (t) => {
    const store = tempStore(t)
    const { c, q1, a1, q2 } = twoBranches(store)
    store.removal.remove(q2.id)
    store.removal.remove(a1)
    assert.throws(() => store.removal.restore(q2.id), (err: unknown) => err instanceof AppError && err.code === 'NOT_FOUND')
    store.removal.restore(a1)
    assert.deepEqual(contents(store, c.id), ['q1 alpha', 'a1 bravo'])
    store.removal.restore(q2.id)
    assert.deepEqual(contents(store, c.id), ['q1 alpha', 'a1 bravo', 'q2 charlie', 'a2 delta', 'a2b echo'])
    assert.equal(store.messages.get(q1.id).conversationId, c.id)
    assertIntact(store.file)
  })
})

describe('MessageStore#addEditedReply', () => {
  it('adds the text as a branch beside the reply, marked edited, under the same model, and shows it', (t) => {
    const store = tempStore(t)
    const { c, q2, a2b } = twoBranches(store)
    const edited = store.messages.addEditedReply(a2b, 'a2b, fixed')
    assert.deepEqual(
      { parentId: edited.parentId, role: edited.role, status: edited.status, stats: edited.stats, modelId: edited.modelId, edited: edited.edited },
      { parentId: q2.id, role: 'assistant', status: 'complete', stats: null, modelId: 'model-a', edited: true },
    )
    assert.deepEqual(show(store.messages.branch(c.id)).at(-1), 'a2b, fixed 3/3')
    assert.equal(store.messages.get(a2b).content, 'a2b echo')
    assert.equal(store.messages.get(a2b).edited, undefined)
    assert.equal(store.search('fixed')[0]?.messageId, edited.id)
  })

  it('refuses a user message and a reply still being written', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const q = store.messages.addUser(c.id, null, 'q')
    assert.throws(() => store.messages.addEditedReply(q.id, 'x'), (err: unknown) => err instanceof AppError && err.code === 'BAD_REQUEST')
    const writer = store.messages.startAssistant(c.id, q.id, 'model-a')
    assert.throws(() => store.messages.addEditedReply(writer.messageId, 'x'), (err: unknown) => err instanceof AppError && err.code === 'CONFLICT')
    writer.finish({ status: 'complete' })
    assert.equal(store.messages.list(c.id).length, 2)
  })

  it('keeps the mark through a Hearth JSON export and import', async (t) => {
    const store = tempStore(t)
    const { c, a2b } = twoBranches(store)
    store.messages.addEditedReply(a2b, 'a2b, fixed')
    const text = store.exportText('json', [c.id])
    const other = tempStore(t)
    const { conversationIds } = await other.importText(text)
    const imported = other.messages.list(conversationIds[0]!)
    assert.deepEqual(imported.map((m) => m.edited === true), [false, false, false, false, false, true])
    assert.match(store.exportText('markdown', [c.id]), /## Assistant \(model-a, edited by the user\)\n\na2b, fixed/)
  })
})
