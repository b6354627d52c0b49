// Folders: their order, what deleting one leaves, conversations filed in them, search within one,
// and the migration that made room for them.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MIGRATIONS } from '../../../src-main/store/migrations.ts'
import { openStore } from '../../../src-main/store/store.ts'
import { assertIntact, manualClock, olderDb, tempDir, tempStore } from './helpers.ts'

describe('FolderStore', () => {
  it('lists folders in the order made, and moving one shifts the others around it', (t) => {
    const store = tempStore(t)
    const [a, b, c] = ['Work', 'Home', 'Travel'].map((name) => store.folders.create(name))
    assert.deepEqual(store.folders.list().map((f) => [f.name, f.position]), [['Work', 0], ['Home', 1], ['Travel', 2]])
    store.folders.update(c!.id, { position: 0 })
    assert.deepEqual(store.folders.list().map((f) => f.name), ['Travel', 'Work', 'Home'])
    store.folders.update(c!.id, { position: 99 })
    assert.deepEqual(store.folders.list().map((f) => [f.name, f.position]), [['Work', 0], ['Home', 1], ['Travel', 2]])
    store.folders.delete(a!.id)
    assert.deepEqual(store.folders.list().map((f) => [f.id, f.position]), [[b!.id, 0], [c!.id, 1]])
  })

  it('changes only what the patch names, and refuses a blank name', (t) => {
    const store = tempStore(t, { now: manualClock(5).now })
    const folder = store.folders.create('  Research  ')
    assert.deepEqual(folder, { id: folder.id, name: 'Research', position: 0, collapsed: false, defaultPresetId: null, createdAt: 5 })
    const presetId = '00000000-0000-4000-8000-000000000001'
    store.folders.update(folder.id, { collapsed: true, defaultPresetId: presetId })
    assert.deepEqual(store.folders.update(folder.id, { name: 'Papers' }), { ...folder, name: 'Papers', collapsed: true, defaultPresetId: presetId })
    assert.throws(() => store.folders.update(folder.id, { name: '  ' }), { code: 'BAD_REQUEST' })
    assert.throws(() => store.folders.update('nope', { collapsed: false }), { code: 'NOT_FOUND' })
  })

  it('keeps a deleted folder\'s conversations, unfiled, and returns which they were', (t) => {
    const store = tempStore(t)
    const folder = store.folders.create('Work')
    const inside = store.conversations.create({ title: 'Inside', folderId: folder.id })
    const moved = store.conversations.update(store.conversations.create({ title: 'Moved in' }).id, { folderId: folder.id })
    const outside = store.conversations.create({ title: 'Outside' })
    assert.equal(moved.folderId, folder.id)
    assert.deepEqual(store.folders.delete(folder.id).conversationIds.sort(), [inside.id, moved.id].sort())
    assert.deepEqual(store.conversations.list().map((c) => c.folderId), [null, null, null])
    assert.deepEqual(store.conversations.list().map((c) => c.id).sort(), [inside.id, moved.id, outside.id].sort())
    assert.throws(() => store.folders.delete(folder.id), { code: 'NOT_FOUND' })
  })

  it('puts a deleted folder back at its place, with its chats that were not filed elsewhere since', (t) => {
    const clock = manualClock()
    const store = tempStore(t, { now: clock.now, undoWindowMs: 1000 })
    const presetId = '00000000-0000-4000-8000-000000000003'
    const [work, home, travel] = ['Work', 'Home', 'Travel'].map((name) => store.folders.create(name))
    const folder = store.folders.update(home!.id, { collapsed: true, defaultPresetId: presetId })
    const stays = store.conversations.create({ title: 'Stays', folderId: home!.id })
    const leaves = store.conversations.create({ title: 'Leaves', folderId: home!.id })
    const { undoUntil } = store.folders.delete(home!.id)
    assert.equal(undoUntil, clock.now() + 1000)
    store.conversations.update(leaves.id, { folderId: travel!.id })
    clock.advance(1000)
    assert.deepEqual(store.folders.restore(home!.id), { folder, conversationIds: [stays.id] })
    assert.deepEqual(store.folders.list().map((f) => [f.id, f.position]), [[work!.id, 0], [home!.id, 1], [travel!.id, 2]])
    assert.deepEqual([store.conversations.get(stays.id).folderId, store.conversations.get(leaves.id).folderId], [home!.id, travel!.id])
    assert.throws(() => store.folders.restore(home!.id), { code: 'NOT_FOUND' })
  })

  it('no longer restores a folder once its undo window has passed', (t) => {
    const clock = manualClock()
    const store = tempStore(t, { now: clock.now, undoWindowMs: 1000 })
    const folder = store.folders.create('Work')
    store.folders.delete(folder.id)
    clock.advance(1001)
    assert.throws(() => store.folders.restore(folder.id), { code: 'NOT_FOUND' })
    assert.deepEqual(store.folders.list(), [])
  })

  it('refuses to file a conversation in a folder that does not exist', (t) => {
    const store = tempStore(t)
    assert.throws(() => store.conversations.create({ folderId: '00000000-0000-4000-8000-000000000002' }), { code: 'NOT_FOUND' })
    const c = store.conversations.create({})
    assert.throws(() => store.conversations.update(c.id, { folderId: 'gone' }), { code: 'NOT_FOUND' })
    assert.equal(store.conversations.update(c.id, { title: 'Renamed' }).folderId, null)
  })
})

describe('Store#search in a folder', () => {
  it('finds title and message hits in the folder only', (t) => {
    const store = tempStore(t)
    const folder = store.folders.create('Boats')
    const inside = store.conversations.create({ title: 'Sailing plans', folderId: folder.id })
    const outside = store.conversations.create({ title: 'Sailing history' })
    const insideMessage = store.messages.addUser(inside.id, null, 'the sailing route along the coast')
    store.messages.addUser(outside.id, null, 'sailing ships of the past')

    const everywhere = store.search('sailing')
    assert.deepEqual(new Set(everywhere.map((h) => h.conversationId)), new Set([inside.id, outside.id]))
    const scoped = store.search('sailing', { folderId: folder.id })
    assert.deepEqual(scoped.map((h) => [h.kind, h.conversationId]), [['title', inside.id], ['message', inside.id]])
    assert.equal(scoped[1]?.kind === 'message' && scoped[1].messageId, insideMessage.id)
    assert.deepEqual(store.search('sailing', { folderId: store.folders.create('Empty').id }), [])
  })
})

describe('Migration to schema 6', () => {
  it('adds folders, keeping every conversation, unfiled, and its messages found', (t) => {
    const dir = tempDir(t)
    const db = olderDb(dir, 5)
    db.prepare(`INSERT INTO conversations (id, title, created_at, updated_at, model_id, system_prompt, params, context_policy,
      pinned, archived, active_leaf_id) VALUES ('c', 'Old chat', 1, 2, NULL, 'Be brief.', '{}', 'stop', 1, 0, 'm1')`).run()
    db.prepare(`INSERT INTO messages (id, conversation_id, parent_id, role, content, status, created_at)
      VALUES ('m1', 'c', NULL, 'user', 'an old question about lighthouses', 'complete', 1)`).run()
    db.close()

    const store = openStore({ dataDir: dir })
    t.after(() => store.close())
    assert.deepEqual([store.report.migratedFrom, store.report.version], [5, MIGRATIONS.length])
    const old = store.conversations.get('c')
    assert.deepEqual([old.title, old.systemPrompt, old.pinned, old.activeLeafId, old.folderId], ['Old chat', 'Be brief.', true, 'm1', null])
    assert.deepEqual(store.folders.list(), [])
    const folder = store.folders.create('Archive')
    store.conversations.update('c', { folderId: folder.id })
    const hit = store.search('lighthouses', { folderId: folder.id })[0]
    assert.ok(hit !== undefined && hit.kind === 'message' && hit.messageId === 'm1', 'the old message is found in its new folder')
    assertIntact(store.file)
  })
})
