// Browser mode's HTTP server: the built renderer plus the WebSocket bridge, on loopback only.

import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { pipeline } from 'node:stream'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type { App } from '../app/app.ts'
import { CONTENT_SECURITY_POLICY } from '../app/csp.ts'
import { createBridge } from './bridge.ts'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
}

export interface ServeOptions {
  app: App
  rendererDir: string
  port?: number
  /** Fixed for tests; otherwise a fresh random token per launch. */
  token?: string
  /** How long an unfinished upload is kept; tests shorten it. */
  uploadIdleMs?: number
}

export interface RunningServer {
  url: string
  port: number
  token: string
  close(): Promise<void>
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const token = options.token ?? randomBytes(24).toString('base64url')
  const server = http.createServer()
  const bridge = createBridge(options.app, { uploadIdleMs: options.uploadIdleMs })
  let port = 0

  server.on('request', (req, res) => {
    if (!isLocalHost(req.headers.host, port)) return reject(res, 421, 'Unknown host')
    serveStatic(options.rendererDir, req, res).catch(() => (res.headersSent ? res.destroy() : reject(res, 500, 'Internal error')))
  })
  server.on('upgrade', (req, socket, head) => {
    // Until ws takes the socket over (and after a refusal) a reset connection must not end the process.
    socket.on('error', () => socket.destroy())
    const url = new URL(req.url ?? '/', 'http://localhost')
    const allowed =
      url.pathname === '/ws' &&
      isLocalHost(req.headers.host, port) &&
      isLocalOrigin(req.headers.origin, port) &&
      tokensEqual(url.searchParams.get('token'), token)
    if (!allowed) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    bridge.handleUpgrade(req, socket, head, (ws) => bridge.emit('connection', ws, req))
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  port = (server.address() as AddressInfo).port
  // A failure to accept one connection (too many open files) ends that connection, not browser mode.
  server.on('error', (err) => console.error(`Browser mode's HTTP server: ${err.message}`))
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    async close() {
      for (const client of bridge.clients) client.terminate()
      bridge.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Only our own loopback address and port: a DNS-rebinding page arrives with its own Host. */
function isLocalHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`
}

function isLocalOrigin(origin: string | undefined, port: number): boolean {
  return origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`
}

function tokensEqual(given: string | null, expected: string): boolean {
  if (given === null) return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return reject(res, 405, 'Method not allowed')
  const { pathname } = new URL(req.url ?? '/', 'http://localhost')
  let decoded: string
  try {
    decoded = decodeURIComponent(pathname)
  } catch {
    return reject(res, 400, 'Bad request')
  }
  const relative = pathname === '/' ? 'index.html' : decoded.replace(/^\/+/, '')
  const file = path.resolve(root, relative)
  if (!file.startsWith(path.resolve(root) + path.sep)) return reject(res, 404, 'Not found')
  const info = await stat(file).catch(() => null)
  if (!info?.isFile()) return reject(res, 404, 'Not found')
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  })
  if (req.method === 'HEAD') return void res.end()
  // A file replaced mid-read (a rebuild) ends this response, never the process.
  pipeline(createReadStream(file), res, () => undefined)
}

function reject(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' })
  res.end(message)
}
