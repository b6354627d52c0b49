// Documents through the app with a real store and extractor and a scripted engine: what a turn puts
// before the model (whole, or the passages that match), that it stays the same on later turns so the
// cache prefix holds, prefill progress as events, and what is kept and deleted with the messages.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Events } from '../../../src-shared/api.ts'
import type { DocumentInfo } from '../../../src-shared/types.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { named, nextDone } from './app-events.ts'
import { ScriptedEngine } from './scripted-engine.ts'

let root: string
let engine: ScriptedEngine
let app: App
let dataDir: string
let events: { name: keyof Events; payload: unknown }[]
let now: number

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-documents-flow-'))
  await buildModel(path.join(root, 'models', 'tiny'), { layers: 1 })
})

after(async () => {
  await rm(root, { recursive: true, force: true })
})

async function open(): Promise<App> {
  const opened = await createApp({
    shell: 'browser',
    version: '0.0.0',
    dataDir,
    modelsDir: path.join(root, 'models'),
    engine,
    store: { undoWindowMs: 1000, now: () => now },
  })
  opened.events.subscribe((name, payload) => events.push({ name, payload }))
  return opened
}

beforeEach(async () => {
  engine = new ScriptedEngine()
  dataDir = await mkdtemp(path.join(root, 'data-'))
  now = Date.now()
  events = []
  app = await open()
})

afterEach(() => app.close())

function attach(name: string, text: string, attachId = `attach-${name}`): Promise<DocumentInfo> {
  return app.api.attachDocument(attachId, name, Buffer.from(text).toString('base64'))
}

/** Sends and lets the scripted engine answer; returns the request the engine got. */
async function ask(conversationId: string, text: string, documentIds?: string[], answer = 'Noted.'): Promise<(typeof engine.requests)[number]> {
  const before = engine.requests.length
  await app.api.send(conversationId, text, documentIds)
  await engine.started()
  const done = nextDone(app)
  engine.token(answer)
  engine.finish()
  await done
  return engine.requests[before]!
}

const NOTES = '# Lighthouse notes\n\nThe keeper winds the clockwork at dusk.\n\nThe lamp burns paraffin.\n'

/** Paragraphs of filler, one of which holds a word nothing else has. */
function handbook(paragraphs: number, rareAt: number): string {
  return Array.from({ length: paragraphs }, (_, i) =>
    i === rareAt
      ? `Section ${i}. The zebracorns graze on the eastern meadow and are counted every spring by the warden.`
      : `Section ${i}. Visitors sign the register at the gate, keep to the marked paths and leave before the bell at sunset.`,
  ).join('\n\n')
}

describe('Documents in a chat', () => {
  it('puts a document that fits whole before the question, and keeps that prompt the same on later turns', async () => {
    const { id } = await app.api.createConversation()
    const info = await attach('notes.md', NOTES)
    assert.equal(info.kind, 'markdown')
    assert.equal(info.name, 'notes.md')
    assert.match(info.id, /^[0-9a-f]{64}$/)

    const first = await ask(id, 'Who winds the clockwork?', [info.id])
    const user = first.messages.at(-1)!
    assert.equal(user.role, 'user')
    assert.ok(user.content.startsWith('<document name="notes.md">\n# Lighthouse notes'), user.content)
    assert.ok(user.content.endsWith('Who winds the clockwork?'))

    const view = await app.api.getConversation(id)
    const stored = view.branch[0]!.message
    assert.deepEqual(stored.documents?.map((d) => d.name), ['notes.md'])
    assert.equal(stored.documentContext?.mode, 'full')
    assert.match(stored.documentContext?.reason ?? '', /notes\.md is \d+ tokens; they fit/)

    // The next turn renders the first message exactly as before: the cached prefix holds.
    const second = await ask(id, 'And the lamp?')
    assert.equal(second.messages.find((m) => m.role === 'user')!.content, user.content)
    assert.equal(second.messages.at(-1)!.content, 'And the lamp?')
  })

  it('searches documents that do not fit, puts the passages that match before each question, and says why', async () => {
    engine.contextLength = 2048
    const { id } = await app.api.createConversation()
    const text = handbook(60, 41)
    const info = await attach('handbook.txt', text)
    const request = await ask(id, 'Where do the zebracorns graze?', [info.id])
    const user = request.messages.at(-1)!
    assert.ok(!user.content.includes('<document'), 'the whole document is not in the prompt')
    assert.match(user.content, /<passages>[\s\S]*zebracorns graze on the eastern meadow[\s\S]*<\/passages>\n\nWhere do the zebracorns graze\?$/)

    const message = (await app.api.getConversation(id)).branch[0]!.message
    const context = message.documentContext!
    assert.equal(context.mode, 'retrieval')
    assert.match(context.reason, /handbook\.txt is \d[\d,]* tokens; the model's context \(2,048 tokens\) leaves room for/)
    assert.ok(context.passages.length > 0)
    const best = context.passages[0]!
    assert.equal(best.documentId, info.id)
    assert.equal(best.name, 'handbook.txt')
    // The source opens the passage in the document: its range holds the matching text.
    const { text: stored } = await app.api.getDocument(info.id)
    assert.match(stored.slice(best.start, best.end), /zebracorns/)

    // A later question is searched afresh; the first one's passages stay as they were.
    const later = await ask(id, 'When is the bell rung at the gate?')
    assert.equal(later.messages.find((m) => m.role === 'user')!.content, user.content)
    const laterMessage = (await app.api.getConversation(id)).branch[2]!.message
    assert.equal(laterMessage.documentContext?.mode, null)
    assert.ok(laterMessage.documentContext!.passages.length > 0)
    assert.match(later.messages.at(-1)!.content, /<passages>[\s\S]*bell[\s\S]*<\/passages>\n\nWhen is the bell rung at the gate\?$/)
  })

  it('switches from whole to retrieval where the document stops fitting', async () => {
    engine.contextLength = 1024
    // answerRoom keeps 256 tokens for the answer: about 760 are left for the documents.
    const fits = 'a'.repeat(4 * 600)
    const overflows = 'b'.repeat(4 * 900)
    const { id: one } = await app.api.createConversation()
    await ask(one, 'q', [(await attach('fits.txt', fits)).id])
    assert.equal((await app.api.getConversation(one)).branch[0]!.message.documentContext?.mode, 'full')
    const { id: two } = await app.api.createConversation()
    await ask(two, 'q', [(await attach('overflows.txt', overflows)).id])
    assert.equal((await app.api.getConversation(two)).branch[0]!.message.documentContext?.mode, 'retrieval')
  })

  it('stores the same file once, however often and under whatever name it is attached', async () => {
    const a = await attach('notes.md', NOTES, 'one')
    const b = await attach('copy of notes.md', NOTES, 'two')
    assert.equal(a.id, b.id)
    assert.equal(b.name, 'copy of notes.md')
    const { id } = await app.api.createConversation()
    await ask(id, 'Hi', [b.id])
    assert.deepEqual((await app.api.getConversation(id)).branch[0]!.message.documents?.map((d) => d.name), ['copy of notes.md'])
  })

  it('refuses a binary file and one over the size limit, storing nothing', async () => {
    await assert.rejects(app.api.attachDocument('bin', 'photo.txt', Buffer.from([0, 1, 2, 255, 0, 7, 0, 0]).toString('base64')), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'DOCUMENT_INVALID')
      assert.match(err.message, /binary/i)
      return true
    })
    const big = Buffer.alloc(32 * 2 ** 20 + 1, 'a').toString('base64')
    await assert.rejects(app.api.attachDocument('big', 'big.txt', big), { code: 'DOCUMENT_TOO_BIG' })
    const { id } = await app.api.createConversation()
    // Nothing was stored: a message cannot name what was refused.
    await assert.rejects(app.api.send(id, 'Hi', ['0'.repeat(64)]), { code: 'NOT_FOUND' })
  })

  it('reports a long prefill as events for the reply being answered', async () => {
    const { id } = await app.api.createConversation()
    const { reply } = await app.api.send(id, 'Hello')
    await engine.started()
    engine.prefill({ done: 256, total: 1024, tokensPerSecond: 900 })
    const done = nextDone(app)
    engine.finish()
    await done
    assert.deepEqual(named(events, 'prefillProgress'), [{ conversationId: id, messageId: reply.id, done: 256, total: 1024, tokensPerSecond: 900 }])
  })

  it('deletes a document with the last conversation that uses it', async () => {
    const info = await attach('notes.md', NOTES)
    const { id: one } = await app.api.createConversation()
    const { id: two } = await app.api.createConversation()
    await ask(one, 'Hi', [info.id])
    await ask(two, 'Hi', [info.id])
    await app.api.deleteConversation(one)
    now += 5000
    await app.close()
    app = await open()
    assert.equal((await app.api.getDocument(info.id)).info.id, info.id)
    await app.api.deleteConversation(two)
    now += 5000
    await app.close()
    app = await open()
    await assert.rejects(app.api.getDocument(info.id), { code: 'NOT_FOUND' })
  })

  it('keeps documents, and how each turn used them, through export and import', async () => {
    const info = await attach('notes.md', NOTES)
    const { id } = await app.api.createConversation()
    await ask(id, 'Who winds the clockwork?', [info.id])
    const exported = await app.api.exportConversations(id, 'json')
    await app.close()
    dataDir = await mkdtemp(path.join(root, 'data-'))
    app = await open()
    await app.api.importConversations(exported.text, 'export.json')
    const [conversation] = await app.api.listConversations()
    const message = (await app.api.getConversation(conversation!.id)).branch[0]!.message
    assert.deepEqual(message.documents?.map((d) => [d.id, d.name]), [[info.id, 'notes.md']])
    assert.equal(message.documentContext?.mode, 'full')
    assert.equal((await app.api.getDocument(info.id)).text, NOTES)
  })
})
