// Both importers, on any file: a plan the store can write whole, or IMPORT_INVALID; nothing else
// escapes, and what a plan holds is what the store then holds.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { AppError } from '../../../src-shared/errors.ts'
import { HEARTH_EXPORT_FORMAT } from '../../../src-main/store/export.ts'
import { planImport } from '../../../src-main/store/import.ts'
import type { ImportPlan } from '../../../src-main/store/import-plan.ts'
import { openStore, type Store } from '../../../src-main/store/store.ts'
import { runs } from './settings.ts'

const NOW = 1_764_000_000_000

type Planned = ReturnType<typeof planImport>

/** The plan, or the AppError it was refused with; any other throw fails the property. */
function plan(text: string): Planned | AppError {
  try {
    return planImport(text, 'x.json', NOW)
  } catch (err) {
    if (err instanceof AppError) return err
    throw err
  }
}

function assertRefusal(err: AppError): void {
  assert.equal(err.code, 'IMPORT_INVALID', err.message)
  assert.match(err.message, /^Nothing was imported: x\.json/)
}

const ROLES = new Set(['system', 'user', 'assistant'])
const STATUSES = new Set(['complete', 'interrupted', 'error'])

/** What the writer relies on: parents before children, known keys, and values each column takes. */
function assertWritable({ conversations, skippedMessages }: ImportPlan): void {
  assert.ok(Number.isSafeInteger(skippedMessages) && skippedMessages >= 0)
  for (const c of conversations) {
    const { title, createdAt, updatedAt } = c.fields
    assert.ok(title.trim().length > 0 && title.length <= 500, `title ${JSON.stringify(title)}`)
    assert.ok(Number.isSafeInteger(createdAt) && Number.isSafeInteger(updatedAt), `times ${createdAt}, ${updatedAt}`)
    const seen = new Set<string>()
    for (const m of c.messages) {
      assert.ok(!seen.has(m.key), `message ${m.key} twice`)
      assert.ok(m.parentKey === null || seen.has(m.parentKey), `${m.key} before its parent ${m.parentKey}`)
      seen.add(m.key)
      assert.ok(ROLES.has(m.fields.role) && STATUSES.has(m.fields.status))
      assert.equal(typeof m.fields.content, 'string')
      assert.ok(Number.isSafeInteger(m.fields.createdAt), `message time ${m.fields.createdAt}`)
    }
    assert.ok(c.activeKey === null || seen.has(c.activeKey))
  }
}

/** Ids of the trees below and a few others: a wrong parent or leaf drawn from here may loop or dangle. */
const id = fc.constantFrom('m0', 'm1', 'm2', 'm3', 'x', '__proto__', 'constructor')
const wrong = fc.oneof(fc.string({ maxLength: 3 }), fc.integer(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 1 }))
/** Mostly a value of the right kind, now and then anything. */
const maybe = <T>(arb: fc.Arbitrary<T>, odds = 40) => fc.oneof({ weight: odds, arbitrary: arb }, { weight: 1, arbitrary: wrong })
/** For each message's fields, which a file has many of. */
const rarely = <T>(arb: fc.Arbitrary<T>) => maybe(arb, 80)
// Any time at all, past 2^53 ms and infinite ones included: those must be IMPORT_INVALID, not SQLite's refusal.
const seconds = fc.oneof(fc.double({ min: -1e10, max: 1e10, noNaN: true }), fc.double(), fc.constant(null))

const chatGptMessage = fc.record(
  {
    author: rarely(fc.record({ role: fc.constantFrom('user', 'assistant', 'user', 'assistant', 'system', 'tool') })),
    content: rarely(
      fc.record(
        { content_type: fc.constantFrom('text', 'text', 'multimodal_text', 'code'), parts: rarely(fc.array(fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 1 })), { maxLength: 3 })) },
        { requiredKeys: ['content_type'] },
      ),
    ),
    create_time: rarely(seconds),
    recipient: rarely(fc.constantFrom('all', null, 'all', 'python')),
    metadata: rarely(fc.record({ is_visually_hidden_from_conversation: fc.boolean(), model_slug: fc.oneof(fc.string({ maxLength: 6 }), fc.integer()) }, { requiredKeys: [] })),
  },
  { requiredKeys: ['author', 'content'] },
)
const chatGptNode = (parent: string | null) =>
  fc.record({ message: rarely(fc.oneof({ weight: 6, arbitrary: chatGptMessage }, { weight: 1, arbitrary: fc.constant(null) })), parent: rarely(fc.oneof({ weight: 10, arbitrary: fc.constant(parent) }, { weight: 1, arbitrary: id })), children: fc.array(id, { maxLength: 2 }) }, { requiredKeys: ['message', 'parent'] })

/**
 * Ids for a tree of up to 7 messages, each with its parent (null for a root): the parents come
 * earlier, so the tree is sound until `maybe` puts a wrong parent in. Some take the names of
 * Object.prototype's members.
 */
const tree = fc
  .tuple(fc.array(fc.nat(), { maxLength: 7 }), fc.constantFrom('m', '__proto__', 'constructor'))
  .map(([picks, odd]) => picks.map((pick, i) => ({ key: i === 1 && odd !== 'm' ? odd : `m${i}`, parent: i === 0 || pick % 4 === 0 ? null : pick % i })))
  .map((nodes) => nodes.map(({ key, parent }) => ({ key, parent: parent === null ? null : nodes[parent]!.key })))

const chatGptConversation = fc.record(
  {
    title: maybe(fc.oneof(fc.string({ maxLength: 8 }), fc.constant('   '), fc.constant('t'.repeat(600)))),
    create_time: maybe(seconds),
    update_time: maybe(seconds),
    mapping: maybe(
      tree.chain((nodes) => fc.tuple(...nodes.map(({ key, parent }) => chatGptNode(parent).map((node) => [key, node] as const)))).map((entries) => Object.fromEntries(entries)),
    ),
    current_node: maybe(fc.oneof(id, fc.constant(null))),
    is_archived: maybe(fc.boolean()),
  },
  { requiredKeys: ['mapping'] },
)
const chatGptExport = fc.array(chatGptConversation, { maxLength: 3 })

const time = fc.oneof(fc.integer({ min: -1e12, max: 1e13 }), fc.constantFrom(0, NOW))
const hearthMessage = (key: string, parent: string | null) =>
  fc.record({
    id: rarely(fc.constant(key)),
    parentId: rarely(fc.oneof({ weight: 10, arbitrary: fc.constant(parent) }, { weight: 1, arbitrary: id })),
    role: rarely(fc.constantFrom('system', 'user', 'assistant')),
    content: rarely(fc.string()),
    status: rarely(fc.constantFrom('streaming', 'complete', 'interrupted', 'error')),
    stats: rarely(fc.constant(null)),
    modelId: rarely(fc.oneof(fc.string({ maxLength: 6 }), fc.constant(null))),
    error: rarely(fc.constant(null)),
    createdAt: rarely(time),
  })

const hearthConversation = fc.record({
  title: maybe(fc.oneof({ weight: 8, arbitrary: fc.string({ minLength: 1, maxLength: 8 }).map((t) => `t${t}`) }, { weight: 1, arbitrary: fc.constantFrom(' ', '') })),
  createdAt: maybe(time),
  updatedAt: maybe(time),
  modelId: maybe(fc.constant(null)),
  systemPrompt: maybe(fc.string({ maxLength: 8 })),
  params: maybe(fc.record({ temperature: fc.double({ min: 0, max: 2, noNaN: true }), stop: fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }) }, { requiredKeys: [] })),
  contextPolicy: maybe(fc.constantFrom('stop', 'drop-oldest', 'truncate-middle')),
  pinned: maybe(fc.boolean()),
  archived: maybe(fc.boolean()),
  activeLeafId: maybe(fc.oneof(id, fc.constant(null))),
  messages: maybe(tree.chain((nodes) => fc.tuple(...nodes.map(({ key, parent }) => hearthMessage(key, parent)))).chain((list) => fc.shuffledSubarray(list, { minLength: list.length }))),
})
const hearthExport = fc.record({
  format: fc.constant(HEARTH_EXPORT_FORMAT),
  version: maybe(fc.constantFrom(1, 1, 1, 1, 2, 0), 12),
  exportedAt: fc.constant(NOW),
  conversations: maybe(fc.array(hearthConversation, { maxLength: 3 }), 12),
})

const file = fc.oneof(chatGptExport, hearthExport).map((data) => JSON.stringify(data))

describe('planImport, on any file', () => {
  it('answers any text with a writable plan or IMPORT_INVALID', () => {
    const text = fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v)), fc.array(fc.jsonValue({ maxDepth: 2 })).map((v) => JSON.stringify(v)))
    fc.assert(
      fc.property(text, (raw) => {
        const result = plan(raw)
        if (result instanceof AppError) assertRefusal(result)
        else assertWritable(result.plan)
      }),
      runs(300),
    )
  })

  it('plans a ChatGPT or Hearth export with its trees intact, or refuses it naming the file', () => {
    fc.assert(
      fc.property(file, (raw) => {
        const result = plan(raw)
        if (result instanceof AppError) assertRefusal(result)
        else assertWritable(result.plan)
      }),
      runs(500),
    )
  })

  it('refuses an export cut short or with characters changed as IMPORT_INVALID, or plans it if it is still JSON', () => {
    const edit = fc.record({ at: fc.nat(), length: fc.nat({ max: 3 }), insert: fc.constantFrom('', '"', '{', '}', '[', ']', ',', ':', '\\', '\\u', '0', 'null', ' ', '\u00e9') })
    fc.assert(
      fc.property(file, fc.array(edit, { minLength: 1, maxLength: 3 }), fc.boolean(), (raw, edits, cutShort) => {
        let text = raw
        for (const { at, length, insert } of edits) {
          const i = at % (text.length + 1)
          text = text.slice(0, i) + insert + text.slice(i + length)
        }
        if (cutShort) text = text.slice(0, edits[0]!.at % (text.length + 1))
        const result = plan(text)
        if (result instanceof AppError) return assertRefusal(result)
        assertWritable(result.plan)
        // The importer reads JSON in slices with its own scanner: what it plans, JSON.parse reads too.
        JSON.parse(text)
      }),
      runs(400),
    )
  })
})

describe('Store#importText, on any export', () => {
  let dir = ''
  let store: Store
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hearth-property-import-'))
    store = openStore({ dataDir: dir, now: () => NOW })
  })
  after(() => {
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('writes all of a plan or none of it, and a Hearth export of what it wrote reads back the same', async () => {
    await fc.assert(
      fc.asyncProperty(file, async (raw) => {
        const before = store.conversations.list({}).length
        const planned = plan(raw)
        let result
        try {
          result = await store.importText(raw, 'x.json')
        } catch (err) {
          assert.ok(err instanceof AppError, `a raw error escaped: ${String(err)}`)
          assertRefusal(err)
          assert.ok(planned instanceof AppError, 'the store refused a plan the importer made')
          assert.equal(store.conversations.list({}).length, before)
          return
        }
        assert.ok(!(planned instanceof AppError))
        const messages = planned.plan.conversations.reduce((n, c) => n + c.messages.length, 0)
        assert.equal(result.messages, messages)
        assert.equal(result.conversationIds.length, planned.plan.conversations.length)
        if (result.conversationIds.length === 0) return

        const exported = store.exportText('json', result.conversationIds)
        const again = planImport(exported, 'export.json', NOW)
        assert.equal(again.format, 'hearth')
        // As JSON: a create_time of -5e-324 plans a createdAt of -0, which SQLite keeps as 0.
        const shape = (p: ImportPlan) => JSON.parse(JSON.stringify(p.conversations.map((c) => ({ ...c.fields, messages: c.messages.map((m) => m.fields) })))) as unknown
        assert.deepEqual(shape(again.plan), shape(planned.plan))
      }),
      runs(300),
    )
  })
})
