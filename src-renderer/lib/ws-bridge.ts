// Browser mode's transport: the Bridge over a WebSocket to `npm run serve`, reconnecting; large
// arguments (an import file) travel ahead of their call in chunks.

import type { Bridge, CallResult, EventName, Events } from '../../src-shared/api.ts'

type Listener = (payload: unknown) => void
type Pending = { resolve: (result: CallResult) => void; uploads: number[] }

/**
 * A string argument longer than this travels ahead of its call as an upload, in chunks, so no
 * frame comes near the server's limit (src-main/serve/uploads.ts has the protocol).
 */
const INLINE_MAX_CHARS = 256 * 1024
/** Tries to reconnect before the page says the link is lost (250 + 500 + 1000 ms of waiting). */
const TRIES_BEFORE_LOST = 3
/** The server's UPLOAD_CHUNK_BYTES. */
const CHUNK_BYTES = 1024 * 1024
/** The next chunk waits while this much is still unsent, so an upload is not buffered whole twice. */
const BUFFERED_MAX_BYTES = 4 * CHUNK_BYTES

const TOKEN_KEY = 'hearth.token'

/** The token arrives once in the URL; keep it for reloads and take it out of the address bar. */
function takeToken(location: Location): string {
  const url = new URL(location.href)
  const fromUrl = url.searchParams.get('token')
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl)
    url.searchParams.delete('token')
    history.replaceState(null, '', url.pathname + url.search + url.hash)
    return fromUrl
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? ''
}

export function connectWebSocketBridge(location: Location): Bridge {
  const token = takeToken(location)
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?token=${encodeURIComponent(token)}`
  const listeners = new Map<string, Set<Listener>>()
  const pending = new Map<number, Pending>()
  /** Upload id → the call it carries an argument of. */
  const uploadCalls = new Map<number, number>()
  const queue: string[] = []
  const waiting: ((socket: WebSocket) => void)[] = []
  let nextId = 1
  let nextUpload = 1
  let socket: WebSocket
  let retryMs = 250
  /** Closes in a row without an open between; 0 while connected. */
  let failures = 0
  /** A page that never connected (a stale token) fails its first calls, and App says so; no banner then. */
  let everConnected = false
  let state: Events['connection']['state'] = 'connected'
  const report = (next: Events['connection']['state']): void => {
    if (next === state) return
    state = next
    for (const listener of listeners.get('connection') ?? []) listener({ state })
  }

  function settle(id: number, result: CallResult): void {
    const call = pending.get(id)
    if (call === undefined) return
    pending.delete(id)
    for (const upload of call.uploads) uploadCalls.delete(upload)
    call.resolve(result)
  }

  function open(): void {
    socket = new WebSocket(wsUrl)
    socket.addEventListener('open', () => {
      retryMs = 250
      failures = 0
      everConnected = true
      report('connected')
      for (const frame of queue.splice(0)) socket.send(frame)
      for (const resume of waiting.splice(0)) resume(socket)
    })
    socket.addEventListener('message', (message: MessageEvent<string>) => {
      const frame = JSON.parse(message.data) as {
        id?: number
        result?: CallResult
        event?: string
        payload?: unknown
        upload?: number
        error?: { code: string; message: string }
      }
      if (frame.id !== undefined && frame.result) {
        settle(frame.id, frame.result)
      } else if (frame.upload !== undefined && frame.error) {
        // The server dropped an upload before its call: that call fails with the reason.
        const id = uploadCalls.get(frame.upload)
        if (id !== undefined) settle(id, { ok: false, error: frame.error })
      } else if (frame.event) {
        for (const listener of listeners.get(frame.event) ?? []) listener(frame.payload)
      }
    })
    socket.addEventListener('close', () => {
      // Calls in flight are lost with the connection: fail them rather than hang.
      for (const id of [...pending.keys()]) {
        settle(id, { ok: false, error: { code: 'INTERNAL', message: 'Lost the connection to Hearth. If you opened this page by hand, use the URL that npm run serve printed: it carries the access token.' } })
      }
      failures++
      if (everConnected) report(failures >= TRIES_BEFORE_LOST ? 'lost' : 'reconnecting')
      setTimeout(open, retryMs)
      retryMs = Math.min(retryMs * 2, 5000)
    })
  }
  open()

  function opened(): Promise<WebSocket> {
    if (socket.readyState === WebSocket.OPEN) return Promise.resolve(socket)
    return new Promise((resolve) => waiting.push(resolve))
  }

  /** Sends each large argument as an upload, then the call naming them; stops once the call has failed. */
  async function sendWithUploads(id: number, method: string, args: unknown[], large: number[]): Promise<void> {
    const ws = await opened()
    const live = () => ws === socket && ws.readyState === WebSocket.OPEN && pending.has(id)
    const sent = [...args]
    const uploads: Record<string, number> = {}
    for (const index of large) {
      const upload = nextUpload++
      uploads[index] = upload
      uploadCalls.set(upload, id)
      pending.get(id)?.uploads.push(upload)
      const bytes = new TextEncoder().encode(args[index] as string)
      ws.send(JSON.stringify({ upload, bytes: bytes.length }))
      for (let at = 0; at < bytes.length; at += CHUNK_BYTES) {
        while (live() && ws.bufferedAmount > BUFFERED_MAX_BYTES) await new Promise((resolve) => setTimeout(resolve, 10))
        if (!live()) return
        const piece = bytes.subarray(at, at + CHUNK_BYTES)
        const frame = new Uint8Array(4 + piece.length)
        new DataView(frame.buffer).setUint32(0, upload, true)
        frame.set(piece, 4)
        ws.send(frame)
      }
      sent[index] = null
    }
    if (live()) ws.send(JSON.stringify({ id, method, args: sent, uploads }))
  }

  function call(method: string, args: unknown[]): Promise<CallResult> {
    const id = nextId++
    const large = args.flatMap((arg, i) => (typeof arg === 'string' && arg.length > INLINE_MAX_CHARS ? [i] : []))
    return new Promise((resolve) => {
      pending.set(id, { resolve, uploads: [] })
      if (large.length > 0) return void sendWithUploads(id, method, args, large)
      const frame = JSON.stringify({ id, method, args })
      if (socket.readyState === WebSocket.OPEN) socket.send(frame)
      else queue.push(frame)
    })
  }

  const on = <E extends EventName>(event: E, listener: (payload: Events[E]) => void): (() => void) => {
    const set = listeners.get(event) ?? new Set<Listener>()
    listeners.set(event, set)
    set.add(listener as Listener)
    return () => set.delete(listener as Listener)
  }

  return new Proxy({ on } as unknown as Bridge, {
    get(target, name) {
      if (name === 'on') return target.on
      if (typeof name !== 'string') return undefined
      return (...args: unknown[]) => call(name, args)
    },
  })
}
