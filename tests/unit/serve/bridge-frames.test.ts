// What a client can send the bridge that is not a plain call: a broken frame ends that client's
// connection and nothing else, and a large argument comes as chunks that no frame limit stops.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import type { CallResult } from '../../../src-shared/api.ts'
import type { HistoryImportProgress } from '../../../src-shared/types.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { MAX_FRAME_BYTES, type ServerFrame } from '../../../src-main/serve/bridge.ts'
import { startServer, type RunningServer } from '../../../src-main/serve/server.ts'
import { CHUNK_HEADER_BYTES, MAX_UPLOAD_BYTES, UPLOAD_CHUNK_BYTES } from '../../../src-main/serve/uploads.ts'
import { largeChatGptExport } from '../store/fixtures/large-export.ts'

let dir: string
let app: App
let server: RunningServer
/** The same app behind a second server whose uploads wait only a moment for their next chunk. */
let impatient: RunningServer
const IDLE_MS = 300

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hearth-frames-'))
  app = await createApp({ shell: 'browser', version: '1.0.0', dataDir: dir, modelsDir: path.join(dir, 'models') })
  server = await startServer({ app, rendererDir: dir })
  impatient = await startServer({ app, rendererDir: dir, uploadIdleMs: IDLE_MS })
})

after(async () => {
  await impatient.close()
  await server.close()
  await app.close()
  await rm(dir, { recursive: true, force: true })
})

/** A connection that keeps every frame the server sends, for tests to wait on. */
class Client {
  readonly ws: WebSocket
  readonly frames: ServerFrame[] = []
  readonly closed: Promise<number>
  #waiters: (() => void)[] = []
  #open = true
  #nextId = 1

  constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as ServerFrame)
      for (const wake of this.#waiters.splice(0)) wake()
    })
    this.closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)))
    ws.once('close', () => {
      this.#open = false
      for (const wake of this.#waiters.splice(0)) wake()
    })
  }

  static async connect(to: RunningServer = server): Promise<Client> {
    const ws = new WebSocket(`ws://127.0.0.1:${to.port}/ws?token=${to.token}`, { origin: `http://127.0.0.1:${to.port}` })
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    return new Client(ws)
  }

  /** The first frame, of those come and to come, that `match` picks. */
  async frame<F extends ServerFrame>(match: (frame: ServerFrame) => frame is F): Promise<F>
  async frame(match: (frame: ServerFrame) => boolean): Promise<ServerFrame>
  async frame(match: (frame: ServerFrame) => boolean): Promise<ServerFrame> {
    for (;;) {
      const found = this.frames.find(match)
      if (found !== undefined) return found
      if (!this.#open) throw new Error('The server closed the connection')
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }

  async call(method: string, args: unknown[], uploads?: Record<string, number>): Promise<CallResult> {
    const id = this.#nextId++
    this.ws.send(JSON.stringify({ id, method, args, ...(uploads ? { uploads } : {}) }))
    return (await this.frame((f): f is Extract<ServerFrame, { id: number }> => 'id' in f && f.id === id)).result
  }

  begin(upload: number, bytes: number): void {
    this.ws.send(JSON.stringify({ upload, bytes }))
  }

  chunk(upload: number, data: Buffer): void {
    const header = Buffer.alloc(CHUNK_HEADER_BYTES)
    header.writeUInt32LE(upload)
    this.ws.send(Buffer.concat([header, data]))
  }

  /** As the renderer sends a large argument: announced, in chunks, then the call naming it. */
  async callWithUpload(method: string, args: unknown[], index: number, text: string, upload: number): Promise<CallResult> {
    const bytes = Buffer.from(text)
    this.begin(upload, bytes.length)
    for (let at = 0; at < bytes.length; at += UPLOAD_CHUNK_BYTES) this.chunk(upload, bytes.subarray(at, at + UPLOAD_CHUNK_BYTES))
    const sent = [...args]
    sent[index] = null
    return this.call(method, sent, { [index]: upload })
  }

  async dropped(upload: number): Promise<string> {
    return (await this.frame((f): f is Extract<ServerFrame, { upload: number }> => 'upload' in f && f.upload === upload)).error.message
  }
}

/** Another client is still served whole: its calls answered and the app's events delivered. */
async function assertServing(client: Client): Promise<void> {
  const info = await client.call('appInfo', [])
  assert.equal(info.ok && (info.value as { version: string }).version, '1.0.0')
  const notice = client.frame((f): f is Extract<ServerFrame, { event: string }> => 'event' in f && f.event === 'notice')
  app.events.emit('notice', { level: 'info', message: 'still here' })
  assert.deepEqual((await notice).payload, { level: 'info', message: 'still here' })
  const fresh = await Client.connect()
  assert.equal((await fresh.call('appInfo', [])).ok, true)
  fresh.ws.close()
}

const hearthExport = (title: string) =>
  JSON.stringify({ format: 'hearth-conversations', version: 1, exportedAt: 0, conversations: [
    { title, createdAt: 1, updatedAt: 1, modelId: null, systemPrompt: '', params: {}, contextPolicy: 'stop', pinned: false, archived: false, activeLeafId: null, messages: [] },
  ] })

describe('WebSocket bridge, a frame that breaks the protocol', () => {
  it('closes the connection that sent invalid UTF-8, and only that one', async () => {
    const other = await Client.connect()
    const bad = await Client.connect()
    bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false })
    assert.equal(await bad.closed, 1007)
    await assertServing(other)
    other.ws.close()
  })

  it('closes the connection that sent a frame over the limit, and only that one', async () => {
    const other = await Client.connect()
    const bad = await Client.connect()
    bad.ws.send(JSON.stringify({ id: 1, method: 'importConversations', args: ['x'.repeat(MAX_FRAME_BYTES + 1)] }))
    assert.equal(await bad.closed, 1009)
    await assertServing(other)
    other.ws.close()
  })
})

describe('WebSocket bridge uploads', () => {
  it('imports a 60 MB ChatGPT export sent in chunks, serving another client all the while', async () => {
    const text = largeChatGptExport({ conversations: 600, messagesPerConversation: 10, messageBytes: 10_000 })
    assert.ok(Buffer.byteLength(text) > 60_000_000)
    const uploader = await Client.connect()
    const watcher = await Client.connect()
    const before = await watcher.call('listConversations', [])
    assert.ok(before.ok)
    const imported = uploader.callWithUpload('importConversations', [null, 'conversations.json'], 0, text, 1)

    // Mid-import another client's call is answered, and sees none of the import yet.
    await watcher.frame((f) => 'event' in f && f.event === 'historyImportProgress' && (f.payload as HistoryImportProgress).phase === 'writing')
    const during = await watcher.call('listConversations', [])
    let finished = false
    void imported.then(() => (finished = true))
    assert.equal(finished, false, 'the import was still running when the other call was answered')
    assert.deepEqual(during, before)

    const result = await imported
    assert.ok(result.ok, JSON.stringify(result))
    const { conversationIds, messages } = result.value as { conversationIds: string[]; messages: number }
    assert.deepEqual([conversationIds.length, messages], [600, 6000])
    const last = await watcher.frame((f) => 'event' in f && f.event === 'historyImportProgress' && (f.payload as HistoryImportProgress).done === 6000)
    assert.deepEqual(last, { event: 'historyImportProgress', payload: { fileName: 'conversations.json', phase: 'writing', done: 6000, total: 6000 } })
    await assertServing(watcher)
    uploader.ws.close()
    watcher.ws.close()
  })

  it('puts together a character split between two chunks', async () => {
    const client = await Client.connect()
    const bytes = Buffer.from(hearthExport('Café ☕'))
    const split = bytes.indexOf(Buffer.from('☕')) + 1
    client.begin(2, bytes.length)
    client.chunk(2, bytes.subarray(0, split))
    client.chunk(2, bytes.subarray(split))
    const result = await client.call('importConversations', [null], { 0: 2 })
    assert.ok(result.ok, JSON.stringify(result))
    const [id] = (result.value as { conversationIds: string[] }).conversationIds
    const view = await client.call('getConversation', [id])
    assert.equal(view.ok && (view.value as { conversation: { title: string } }).conversation.title, 'Café ☕')
    client.ws.close()
  })

  it('refuses an upload over the limit and a chunk over its size, keeping the connection', async () => {
    const client = await Client.connect()
    client.begin(3, MAX_UPLOAD_BYTES + 1)
    assert.match(await client.dropped(3), /at most 64\.0 MiB can be sent at once/)
    client.begin(4, 2 * UPLOAD_CHUNK_BYTES)
    client.chunk(4, Buffer.alloc(UPLOAD_CHUNK_BYTES + 1, 0x20))
    assert.match(await client.dropped(4), /a chunk is 1\.0 MiB, over 1\.0 MiB/)
    const late = await client.call('importConversations', [null], { 0: 4 })
    assert.equal(!late.ok && late.error.code, 'BAD_REQUEST')
    await assertServing(client)
    client.ws.close()
  })

  it('forgets an upload left unfinished, and its call is refused', async () => {
    const client = await Client.connect(impatient)
    const text = hearthExport('Never whole')
    client.begin(5, Buffer.byteLength(text))
    client.chunk(5, Buffer.from(text.slice(0, 10)))
    assert.match(await client.dropped(5), /nothing came for 0\.3 s/)
    const result = await client.call('importConversations', [null], { 0: 5 })
    assert.deepEqual(result, { ok: false, error: { code: 'BAD_REQUEST', message: 'Upload 5 was not sent, or was dropped.' } })
    assert.equal((await client.call('appInfo', [])).ok, true)
    client.ws.close()
  })

  it('refuses a call whose upload ended short', async () => {
    const client = await Client.connect()
    client.begin(6, 100)
    client.chunk(6, Buffer.from('{"format":'))
    const result = await client.call('importConversations', [null], { 0: 6 })
    assert.deepEqual(result, { ok: false, error: { code: 'BAD_REQUEST', message: 'Upload 6 ended after 10 of its 100 bytes.' } })
    client.ws.close()
  })
})
