// The browser-mode bridge: the Api round trip over WebSocket, and who may connect.

import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import http, { type IncomingHttpHeaders } from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import type { CallResult } from '../../../src-shared/api.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { startServer, type RunningServer } from '../../../src-main/serve/server.ts'

let dir: string
let app: App
let server: RunningServer

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hearth-bridge-'))
  app = await createApp({ shell: 'browser', version: '9.8.7', dataDir: dir, modelsDir: path.join(dir, 'models') })
  server = await startServer({ app, rendererDir: dir })
})

after(async () => {
  await server.close()
  await app.close()
  await rm(dir, { recursive: true, force: true })
})

function connect(opts: { token?: string; origin?: string; host?: string } = {}): Promise<WebSocket> {
  const token = opts.token ?? server.token
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${encodeURIComponent(token)}`, {
    origin: opts.origin ?? `http://127.0.0.1:${server.port}`,
    headers: opts.host ? { host: opts.host } : {},
  })
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

function httpGet(url: string): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }))
      })
      .on('error', reject)
  })
}

function call(ws: WebSocket, method: string, args: unknown[]): Promise<CallResult> {
  const id = Math.floor(Math.random() * 1e9)
  return new Promise((resolve) => {
    ws.on('message', function onMessage(data) {
      const frame = JSON.parse(data.toString()) as { id?: number; result: CallResult }
      if (frame.id !== id) return
      ws.off('message', onMessage)
      resolve(frame.result)
    })
    ws.send(JSON.stringify({ id, method, args }))
  })
}

describe('WebSocket bridge', () => {
  it('answers appInfo with the running version and platform', async () => {
    const ws = await connect()
    const result = await call(ws, 'appInfo', [])
    ws.close()
    assert.deepEqual(result, {
      ok: true,
      value: {
        name: 'Hearth',
        version: '9.8.7',
        platform: process.platform,
        arch: process.arch,
        shell: 'browser',
        dataDir: dir,
        modelsDir: path.join(dir, 'models'),
      },
    })
  })

  it('forwards events emitted by the services', async () => {
    const ws = await connect()
    const received = new Promise((resolve) => ws.once('message', (data) => resolve(JSON.parse(data.toString()))))
    app.events.emit('notice', { level: 'warning', message: 'CPU fallback' })
    assert.deepEqual(await received, { event: 'notice', payload: { level: 'warning', message: 'CPU fallback' } })
    ws.close()
  })

  it('returns errors as data for unknown methods and invalid arguments', async () => {
    const ws = await connect()
    const unknown = await call(ws, 'deleteEverything', [])
    const invalid = await call(ws, 'appInfo', ['unexpected'])
    ws.close()
    assert.equal(unknown.ok, false)
    assert.equal(!unknown.ok && unknown.error.code, 'BAD_REQUEST')
    assert.match(!unknown.ok ? unknown.error.message : '', /Unknown method: deleteEverything/)
    assert.equal(!invalid.ok && invalid.error.code, 'BAD_REQUEST')
  })

  it('closes the connection on a malformed frame', async () => {
    const ws = await connect()
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
    ws.send('{"not":"a call"}')
    assert.equal(await closed, 1007)
  })

  it('rejects a wrong token', async () => {
    await assert.rejects(connect({ token: 'wrong' }), /HTTP 403/)
    await assert.rejects(connect({ token: '' }), /HTTP 403/)
  })

  it('rejects a foreign Origin', async () => {
    await assert.rejects(connect({ origin: 'http://evil.example' }), /HTTP 403/)
    await assert.rejects(connect({ origin: `http://127.0.0.1:${server.port + 1}` }), /HTTP 403/)
  })

  it('answers a malformed path with 400 and keeps serving', async () => {
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>Hearth</title>')
    const get = (pathname: string) => httpGet(`http://127.0.0.1:${server.port}${pathname}`)
    assert.equal((await get('/%E0%A4%A')).status, 400)
    const page = await get('/')
    assert.equal(page.status, 200)
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/)
    assert.equal((await get('/../package.json')).status, 404)
  })

  it('rejects a foreign Host even with the right token', async () => {
    await assert.rejects(connect({ host: `rebind.example:${server.port}` }), /HTTP 403/)
  })
})
