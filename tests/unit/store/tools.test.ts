// Tool calls in the message tree: a reply's calls, each result a 'tool' message under it, the
// migration that made room for them, and export and import keeping them.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import type { ToolUse } from '../../../src-shared/types.ts'
import { MIGRATIONS } from '../../../src-main/store/migrations.ts'
import { openStore, type Store } from '../../../src-main/store/store.ts'
import { assertIntact, olderDb, tempDir, tempStore, textDocument } from './helpers.ts'

const use = (callId: string, state: ToolUse['state'] = 'approval'): ToolUse => ({
  callId,
  name: 'add',
  server: 'calc',
  arguments: '{"a":2,"b":3}',
  state,
  durationMs: null,
})

/** user → reply calling add → its result → the reply that reads it. */
function toolTurn(store: Store): { conversationId: string; ids: string[] } {
  const c = store.conversations.create({ toolServers: ['calc'] })
  const user = store.messages.addUser(c.id, null, 'what is 2 + 3?')
  const writer = store.messages.startAssistant(c.id, user.id, 'tiny')
  writer.append('Let me add.')
  writer.finish({ status: 'complete', stats: null })
  const reply = store.messages.setToolCalls(writer.messageId, [{ id: 'call_1', name: 'add', arguments: '{"a":2,"b":3}' }])
  const tool = store.messages.addTool(c.id, reply.id, use('call_1'))
  store.messages.updateTool(tool.id, use('call_1', 'running'))
  store.messages.finishTool(tool.id, { status: 'complete', content: '5', error: null, tool: { ...use('call_1', 'done'), durationMs: 12 } })
  const next = store.messages.startAssistant(c.id, tool.id, 'tiny')
  next.append('2 + 3 = 5.')
  next.finish({ status: 'complete', stats: null })
  return { conversationId: c.id, ids: [user.id, reply.id, tool.id, next.messageId] }
}

const code = (expected: string) => (err: unknown) => err instanceof AppError && err.code === expected

describe('MessageStore with tool calls', () => {
  it('keeps a reply’s calls and each result as a tool message on the branch, in order', (t) => {
    const store = tempStore(t)
    const { conversationId, ids } = toolTurn(store)
    const branch = store.messages.branch(conversationId).map((e) => e.message)
    assert.deepEqual(branch.map((m) => m.id), ids)
    assert.deepEqual(branch.map((m) => m.role), ['user', 'assistant', 'tool', 'assistant'])
    assert.deepEqual(branch[1]?.toolCalls, [{ id: 'call_1', name: 'add', arguments: '{"a":2,"b":3}' }])
    assert.deepEqual([branch[2]?.content, branch[2]?.status, branch[2]?.tool?.state, branch[2]?.tool?.durationMs], ['5', 'complete', 'done', 12])
    assert.equal(branch[0]?.tool, undefined)
    assert.equal(store.conversations.get(conversationId).toolServers.length, 1)
    // A finished result is searchable like any message; a call still waiting is not [TAG_FTS_SYNC].
    assert.ok(store.search('5').some((h) => 'messageId' in h && h.messageId === ids[2]))
    assertIntact(store.file)
  })

  it('refuses to change a call that already has its result, and a tool message without its call', (t) => {
    const store = tempStore(t)
    const { conversationId, ids } = toolTurn(store)
    assert.throws(() => store.messages.updateTool(ids[2]!, use('call_1', 'running')), code('NOT_FOUND'))
    assert.throws(() => store.messages.finishTool(ids[2]!, { status: 'error', content: '', error: 'late', tool: use('call_1', 'done') }), code('NOT_FOUND'))
    assert.throws(
      () => store.messages.insert({ conversationId, parentId: ids[1]!, role: 'tool', content: 'x', status: 'complete', stats: null, modelId: null, error: null, createdAt: 1 }),
      code('BAD_REQUEST'),
    )
    assert.equal(store.messages.get(ids[2]!).content, '5')
  })

  it('marks a call left waiting by a crash as interrupted when the store opens again', (t) => {
    const dir = tempDir(t)
    const store = openStore({ dataDir: dir })
    const c = store.conversations.create()
    const user = store.messages.addUser(c.id, null, 'q')
    const writer = store.messages.startAssistant(c.id, user.id, null)
    writer.finish({ status: 'complete', stats: null })
    store.messages.setToolCalls(writer.messageId, [{ id: 'x', name: 'add', arguments: '{}' }])
    const tool = store.messages.addTool(c.id, writer.messageId, use('x'))
    store.close()
    const reopened = openStore({ dataDir: dir })
    t.after(() => reopened.close())
    assert.equal(reopened.messages.get(tool.id).status, 'interrupted')
  })
})

describe('MessageRemoval of a tool message', () => {
  it('removes the result with the reply that read it, keeps the call, shows the calling reply, and undoes', (t) => {
    const store = tempStore(t)
    const { conversationId, ids } = toolTurn(store)
    const [user, reply, tool, next] = ids
    const { branch } = store.removal.remove(tool!)
    assert.deepEqual(branch.map((e) => e.message.id), [user, reply])
    assert.deepEqual(store.messages.list(conversationId).map((m) => m.id), [user, reply])
    assert.deepEqual(store.messages.get(reply!).toolCalls, [{ id: 'call_1', name: 'add', arguments: '{"a":2,"b":3}' }])
    assert.equal(store.search('5').length, 0)
    assert.deepEqual(store.removal.restore(tool!).map((e) => e.message.id), [user, reply, tool, next])
    assertIntact(store.file)
  })

  it('refuses a call still waiting for its answer', (t) => {
    const store = tempStore(t)
    const c = store.conversations.create()
    const user = store.messages.addUser(c.id, null, 'q')
    const writer = store.messages.startAssistant(c.id, user.id, null)
    writer.finish({ status: 'complete', stats: null })
    store.messages.setToolCalls(writer.messageId, [{ id: 'x', name: 'add', arguments: '{}' }])
    const tool = store.messages.addTool(c.id, writer.messageId, use('x'))
    assert.throws(() => store.removal.remove(tool.id), code('CONFLICT'))
    assert.equal(store.messages.get(tool.id).status, 'streaming')
  })
})

describe('Migration to schema 4', () => {
  it('rebuilds messages for tool calls keeping every row, its documents, the search index and the foreign keys', (t) => {
    const dir = tempDir(t)
    const db = olderDb(dir, 3)
    db.prepare(`INSERT INTO conversations (id, title, created_at, updated_at, model_id, system_prompt, params, context_policy,
      pinned, archived, active_leaf_id) VALUES ('c', 'Old chat', 1, 2, NULL, '', '{}', 'stop', 0, 0, 'm2')`).run()
    const insert = db.prepare(`INSERT INTO messages (id, conversation_id, parent_id, role, content, status, created_at)
      VALUES (?, 'c', ?, ?, ?, 'complete', 1)`)
    insert.run('m1', null, 'user', 'an old question about lighthouses')
    insert.run('m2', 'm1', 'assistant', 'an old answer')
    const doc = textDocument('notes.txt', 'keeper of the light')
    db.prepare(`INSERT INTO documents (id, name, kind, mime_type, bytes, chars, pages, created_at, text)
      VALUES (?, 'notes.txt', 'text', 'text/plain', ?, ?, NULL, 1, ?)`).run(doc.id, doc.bytes, doc.text.length, doc.text)
    db.prepare(`INSERT INTO message_documents (message_id, position, document_id, name) VALUES ('m1', 0, ?, 'notes.txt')`).run(doc.id)
    db.close()

    const store = openStore({ dataDir: dir })
    t.after(() => store.close())
    assert.deepEqual([store.report.migratedFrom, store.report.version], [3, MIGRATIONS.length])
    const branch = store.messages.branch('c').map((e) => e.message)
    assert.deepEqual(branch.map((m) => [m.id, m.role, m.content]), [
      ['m1', 'user', 'an old question about lighthouses'],
      ['m2', 'assistant', 'an old answer'],
    ])
    // Dropping the old table cascaded nowhere: the document is still attached.
    assert.deepEqual(branch[0]?.documents?.map((d) => d.name), ['notes.txt'])
    assert.deepEqual(store.conversations.get('c').toolServers, [])
    const hit = store.search('lighthouses')[0]
    assert.ok(hit !== undefined && 'messageId' in hit && hit.messageId === 'm1', 'the old message is still found')
    store.messages.setToolCalls('m2', [{ id: 'k', name: 'add', arguments: '{}' }])
    store.messages.addTool('c', 'm2', use('k'))
    // Foreign keys are on again: a message of no conversation is refused.
    assert.throws(
      () => store.messages.insert({ conversationId: 'nowhere', parentId: null, role: 'user', content: 'x', status: 'complete', stats: null, modelId: null, error: null, createdAt: 1 }),
      /FOREIGN KEY/,
    )
    // Deleting the conversation still cascades to its messages and their documents.
    store.conversations.delete('c')
    store.conversations.purgeAllDeleted()
    assert.equal(store.documents.has(doc.id), false)
    assertIntact(store.file)
  })
})

describe('Export and import with tool calls', () => {
  it('carries calls, results and the chat’s tool servers through the JSON export, and names them in Markdown', async (t) => {
    const store = tempStore(t)
    const { conversationId } = toolTurn(store)
    const json = store.exportText('json', [conversationId])
    const markdown = store.exportText('markdown', [conversationId])
    assert.match(markdown, /## Tool: add\n\nArguments: `\{"a":2,"b":3\}`\n\n```\n5\n```/)
    assert.match(markdown, /Called `add`/)

    const other = tempStore(t)
    const result = await other.importText(json, 'export.json')
    const imported = result.conversationIds[0]!
    const branch = other.messages.branch(imported).map((e) => e.message)
    assert.deepEqual(branch.map((m) => m.role), ['user', 'assistant', 'tool', 'assistant'])
    assert.deepEqual(branch[1]?.toolCalls, [{ id: 'call_1', name: 'add', arguments: '{"a":2,"b":3}' }])
    assert.deepEqual([branch[2]?.tool?.callId, branch[2]?.content], ['call_1', '5'])
    assert.deepEqual(other.conversations.get(imported).toolServers, ['calc'])
  })

  it('refuses a file whose tool message names no call, importing nothing', async (t) => {
    const store = tempStore(t)
    const { conversationId } = toolTurn(store)
    const file = JSON.parse(store.exportText('json', [conversationId])) as { conversations: { messages: Record<string, unknown>[] }[] }
    delete file.conversations[0]!.messages[2]!['tool']
    const other = tempStore(t)
    await assert.rejects(other.importText(JSON.stringify(file), 'broken.json'), (err: unknown) => err instanceof AppError && err.code === 'IMPORT_INVALID' && /names the call/.test(err.message))
    assert.deepEqual(other.conversations.list(), [])
  })
})
