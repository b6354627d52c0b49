// Browser mode's transport: the Bridge over a WebSocket to `npm run serve`, reconnecting.

import type { Bridge, CallResult, EventName, Events } from '../../src-shared/api.ts'

type Listener = (payload: unknown) => void
type Pending = { resolve: (result: CallResult) => void }

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
  const queue: string[] = []
  let nextId = 1
  let socket: WebSocket
  let retryMs = 250

  function open(): void {
    socket = new WebSocket(wsUrl)
    socket.addEventListener('open', () => {
      retryMs = 250
      for (const frame of queue.splice(0)) socket.send(frame)
    })
    socket.addEventListener('message', (message: MessageEvent<string>) => {
      const frame = JSON.parse(message.data) as { id?: number; result?: CallResult; event?: string; payload?: unknown }
      if (frame.id !== undefined && frame.result) {
        pending.get(frame.id)?.resolve(frame.result)
        pending.delete(frame.id)
      } else if (frame.event) {
        for (const listener of listeners.get(frame.event) ?? []) listener(frame.payload)
      }
    })
    socket.addEventListener('close', () => {
      // Calls in flight are lost with the connection: fail them rather than hang.
      for (const [id, call] of pending) {
        call.resolve({ ok: false, error: { code: 'INTERNAL', message: 'Lost the connection to Hearth. If you opened this page by hand, use the URL that npm run serve printed: it carries the access token.' } })
        pending.delete(id)
      }
      setTimeout(open, retryMs)
      retryMs = Math.min(retryMs * 2, 5000)
    })
  }
  open()

  function call(method: string, args: unknown[]): Promise<CallResult> {
    const id = nextId++
    const frame = JSON.stringify({ id, method, args })
    return new Promise((resolve) => {
      pending.set(id, { resolve })
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
