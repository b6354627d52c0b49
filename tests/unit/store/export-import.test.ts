import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { AppError } from '../../../src-shared/errors.ts'
import type { GenerationStats } from '../../../src-shared/types.ts'
import { HEARTH_EXPORT_VERSION } from '../../../src-main/store/export.ts'
import type { Store } from '../../../src-main/store/store.ts'
import { chatGptExport } from './fixtures/chatgpt-export.ts'
import { tempDir, tempStore } from './helpers.ts'

const STATS: GenerationStats = {
  promptTokens: 30,
  reusedTokens: 12,
  prefillMs: 80.5,
  prefillTokensPerSecond: 223.6,
  ttftMs: 95,
  decodeTokensPerSecond: 18.25,
  generatedTokens: 7,
  stopReason: 'length',
  provider: 'cpu',
  droppedMessages: [1],
  speculation: { drafted: 9, accepted: 6, passes: 3, sources: ['lookup', 'model'] },
}

function reply(store: Store, conversationId: string, parentId: string, text: string, status: 'complete' | 'interrupted' | 'error' = 'complete'): string {
  const writer = store.messages.startAssistant(conversationId, parentId, 'smollm2-135m')
  writer.append(text)
  return writer.finish({ status, stats: STATS, error: status === 'error' ? 'engine crashed' : null }).id
}

/** A conversation with branches, settings, stats, and every status that can be exported. */
function richConversation(store: Store): string {
  const c = store.conversations.create({
    title: 'Rich <b>one</b>',
    modelId: 'smollm2-135m',
    systemPrompt: 'You are terse.\n\nVery.',
    params: { temperature: 0, seed: 7, stop: ['\n\n'] },
    contextPolicy: 'truncate-middle',
  })
  store.conversations.update(c.id, { pinned: true })
  const q1 = store.messages.addUser(c.id, null, 'first question 😀')
  const a1 = reply(store, c.id, q1.id, 'first answer')
  reply(store, c.id, q1.id, 'regenerated answer', 'interrupted')
  const q2 = store.messages.addUser(c.id, a1, 'second \uD83D question\0')
  reply(store, c.id, q2.id, 'failed', 'error')
  store.messages.switchBranch(c.id, a1)
  return c.id
}

/** Everything about a conversation except its ids, with parents and the active leaf as positions. */
function shape(store: Store, conversationId: string): unknown {
  const { id: _id, activeLeafId, ...fields } = store.conversations.get(conversationId)
  const messages = store.messages.list(conversationId)
  const index = new Map(messages.map((m, i) => [m.id, i]))
  return {
    fields,
    active: activeLeafId === null ? null : index.get(activeLeafId),
    messages: messages.map(({ id: _m, conversationId: _c, parentId, ...m }) => ({
      ...m,
      parent: parentId === null ? null : index.get(parentId),
    })),
  }
}

function counts(store: Store): [number, number] {
  const db = new Database(store.file, { readonly: true })
  try {
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n
    return [n('SELECT count(*) AS n FROM conversations'), n('SELECT count(*) AS n FROM messages')]
  } finally {
    db.close()
  }
}

const isInvalid = (pattern: RegExp) => (err: unknown) =>
  err instanceof AppError && err.code === 'IMPORT_INVALID' && pattern.test(err.message)

describe('Store JSON export', () => {
  it('imports back as the same tree, parameters, stats and model ids', async (t) => {
    const source = tempStore(t)
    const id = richConversation(source)
    const json = source.exportText('json', [id])
    const target = tempStore(t)
    const result = await target.importText(json, 'history.json')
    assert.equal(result.format, 'hearth')
    assert.equal(result.messages, 5)
    assert.equal(result.conversationIds.length, 1)
    assert.deepEqual(shape(target, result.conversationIds[0] ?? ''), shape(source, id))
  })

  it('takes every conversation, archived too, but not deleted ones', (t) => {
    const store = tempStore(t)
    store.conversations.create({ title: 'kept' })
    const archived = store.conversations.create({ title: 'archived' })
    store.conversations.update(archived.id, { archived: true })
    store.conversations.delete(store.conversations.create({ title: 'deleted' }).id)
    const exported = JSON.parse(store.exportText('json')) as { conversations: { title: string }[] }
    assert.deepEqual(exported.conversations.map((c) => c.title).sort(), ['archived', 'kept'])
  })

  it('writes a file only once it is complete', (t) => {
    const store = tempStore(t)
    richConversation(store)
    const file = path.join(tempDir(t), 'export.json')
    store.exportToFile(file, 'json')
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).conversations.length, 1)
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['export.json'])
  })
})

describe('Store Markdown export', () => {
  it('shows the active branch with roles, model and system prompt', (t) => {
    const store = tempStore(t)
    const id = richConversation(store)
    const md = store.exportText('markdown', [id])
    assert.ok(md.startsWith('# Rich <b>one</b>\n'))
    assert.match(md, /- Model: smollm2-135m/)
    assert.match(md, /## System\n\nYou are terse\.\n\nVery\./)
    const headings = md.split('\n').filter((l) => l.startsWith('## '))
    assert.deepEqual(headings, ['## System', '## User', '## Assistant (smollm2-135m)', '## User', '## Assistant (smollm2-135m, error: engine crashed)'])
    assert.ok(!md.includes('regenerated answer'))
  })
})

describe('Store ChatGPT import', () => {
  it('keeps the visible turns as a tree, the current node as active leaf, and skips tool turns', async (t) => {
    const store = tempStore(t)
    const result = await store.importText(JSON.stringify(chatGptExport()), 'conversations.json')
    assert.deepEqual([result.format, result.messages, result.skippedMessages], ['chatgpt', 8, 3])
    const [travel, archived] = result.conversationIds.map((id) => store.conversations.get(id))
    assert.ok(travel !== undefined && archived !== undefined)
    assert.deepEqual(
      [travel.title, travel.createdAt, travel.updatedAt, travel.archived, archived.archived],
      ['Travel ideas', 1_700_000_000_500, 1_700_000_500_250, false, true],
    )
    const branch = store.messages.branch(travel.id)
    assert.deepEqual(
      branch.map((e) => `${e.message.role}: ${e.message.content} ${e.siblingIndex + 1}/${e.siblingIds.length}`),
      ['user: Where should I go in spring? 1/1', 'assistant: Try Kyoto. 1/1', 'user: Something closer? 1/2', 'assistant: Porto, or Lisbon. 2/2'],
    )
    assert.equal(branch[1]?.message.modelId, 'gpt-4o')
    assert.equal(branch[0]?.message.createdAt, 1_700_000_010_000)
    const edited = store.messages.switchBranch(travel.id, branch[2]?.siblingIds[1] ?? '')
    assert.equal(edited.at(-1)?.message.content, 'What is this?')
    assert.equal(store.messages.branch(archived.id).at(-1)?.message.content, 'pong \uD83D')
  })
})

describe('Store import of a bad file', () => {
  const hearth = (conversations: unknown[], version = 1) =>
    JSON.stringify({ format: 'hearth-conversations', version, exportedAt: 0, conversations })
  const conversation = (messages: unknown[]) => ({
    title: 'x',
    createdAt: 1,
    updatedAt: 1,
    modelId: null,
    systemPrompt: '',
    params: {},
    contextPolicy: 'stop',
    pinned: false,
    archived: false,
    activeLeafId: null,
    messages,
  })
  const message = (id: string, parentId: string | null, extra: object = {}) => ({
    id,
    parentId,
    role: 'user',
    content: id,
    status: 'complete',
    stats: null,
    modelId: null,
    error: null,
    createdAt: 1,
    ...extra,
  })
  const turn = (role: string, extra: object = {}) => ({ author: { role }, content: { content_type: 'text', parts: ['hi'] }, ...extra })
  const chatgpt = (mapping: Record<string, unknown>) =>
    JSON.stringify([chatGptExport()[0], { title: 'broken', mapping }])
  const cases: [string, string, RegExp][] = [
    ['text that is not JSON', '{"conversations": [', /not valid JSON/],
    ['JSON of another kind', '{"hello": "world"}', /neither a Hearth export nor ChatGPT/],
    ['a Hearth export from the future', hearth([], HEARTH_EXPORT_VERSION + 1), new RegExp(`format version ${HEARTH_EXPORT_VERSION + 1}, and this Hearth reads up to ${HEARTH_EXPORT_VERSION}`)],
    ['a message with an unknown role', hearth([conversation([message('a', null)]), conversation([message('b', null, { role: 'robot' })])]), /conversation 2.*role/],
    ['a reply to a missing message', hearth([conversation([message('a', 'ghost')])]), /a replies to ghost, which is not in the file/],
    ['a Hearth message tree with a loop', hearth([conversation([message('a', 'b'), message('b', 'a')])]), /its own ancestor/],
    ['a ChatGPT node with a missing parent', chatgpt({ n: { message: null, parent: 'ghost' } }), /conversation 2 \("broken"\).*not in the file/],
    ['a ChatGPT tree with a loop', chatgpt({ n: { message: null, parent: 'm' }, m: { message: null, parent: 'n' } }), /its own ancestor/],
    ['a ChatGPT conversation without mapping', JSON.stringify([{ title: 'no mapping' }]), /neither a Hearth export nor ChatGPT/],
    ['a ChatGPT message from a time no date holds', chatgpt({ n: { message: turn('assistant', { create_time: 1e300 }), parent: null } }), /conversation 2 \("broken"\), message n: create_time 1e\+300 is not a time/],
    ['a ChatGPT conversation from before any date', JSON.stringify([{ title: 'ancient', create_time: -1e13, mapping: {} }]), /conversation 1 \("ancient"\): create_time -10000000000000 is not a time/],
    ['a Hearth message from past what a date holds', hearth([conversation([message('a', null, { createdAt: 9e15 })])]), /conversation 1: messages\.0\.createdAt/],
    ['a Hearth model id that is a path', hearth([{ ...conversation([]), modelId: '../../outside' }]), /conversation 1: modelId: must be a model folder name/],
    ['a Hearth reply whose model id holds a separator', hearth([conversation([message('a', null, { modelId: 'a/b' })])]), /messages\.0\.modelId: must be a model folder name/],
    ['a ChatGPT model_slug that is no model id', chatgpt({ n: { message: turn('assistant', { metadata: { model_slug: '..' } }), parent: null } }), /conversation 2 \("broken"\), message n: model_slug "\.\." must be a model folder name/],
  ]
  for (const [name, text, pattern] of cases) {
    it(`names the problem and imports nothing: ${name}`, async (t) => {
      const store = tempStore(t)
      store.conversations.create()
      const before = counts(store)
      await assert.rejects(store.importText(text, 'upload.json'), isInvalid(pattern))
      assert.deepEqual(counts(store), before)
    })
  }

  it('rolls back every conversation already written when a later write fails', async (t) => {
    const store = tempStore(t)
    const db = new Database(store.file)
    db.exec(`CREATE TRIGGER refuse_boom BEFORE INSERT ON messages WHEN new.content = 'BOOM'
      BEGIN SELECT RAISE(ABORT, 'disk said no'); END`)
    db.close()
    const text = hearth([conversation([message('a', null), message('b', 'a')]), conversation([message('BOOM', null)])])
    await assert.rejects(store.importText(text), /disk said no/)
    assert.deepEqual(counts(store), [0, 0])
  })
})
