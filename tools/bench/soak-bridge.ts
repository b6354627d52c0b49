// A Node client of browser mode's WebSocket bridge, speaking the protocol src-renderer/lib/ws-bridge.ts
// speaks (calls and results by id, events broadcast to every connection), without reconnecting:
// a connection the server drops is something the soak reports.

import WebSocket from 'ws'
import type { Api, ApiMethod, CallResult, EventName, Events } from '../../src-shared/api.ts'

type Result<M extends ApiMethod> = CallResult<Awaited<ReturnType<Api[M]>>>
type Listener = <E extends EventName>(event: E, payload: Events[E]) => void

export class BridgeClient {
  readonly #ws: WebSocket
  readonly #pending = new Map<number, (result: CallResult) => void>()
  readonly #listeners = new Set<Listener>()
  #nextId = 1
  /** Why the connection ended, when it ended without close(). */
  lost: string | null = null
  /** Resolves when the connection has ended, however it ended. */
  readonly closed: Promise<void>
  #closing = false

  private constructor(ws: WebSocket) {
    this.#ws = ws
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()))
    ws.on('message', (data) => this.#receive(data.toString()))
    ws.on('close', (code, reason) => {
      if (!this.#closing) this.lost = `closed by the server (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`
      for (const settle of this.#pending.values()) settle({ ok: false, error: { code: 'DISCONNECTED', message: this.lost ?? 'closed' } })
      this.#pending.clear()
    })
    ws.on('error', (err) => (this.lost ??= err.message))
  }

  /** Connects as the page served from 127.0.0.1:port would, with its token and Origin. */
  static connect(port: number, token: string): Promise<BridgeClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}`, { origin: `http://127.0.0.1:${port}` })
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new BridgeClient(ws)))
      ws.once('unexpected-response', (_req, res) => reject(new Error(`the bridge refused the connection: HTTP ${res.statusCode}`)))
      ws.once('error', reject)
    })
  }

  call<M extends ApiMethod>(method: M, ...args: Parameters<Api[M]>): Promise<Result<M>> {
    if (this.#ws.readyState !== WebSocket.OPEN) return Promise.resolve({ ok: false, error: { code: 'DISCONNECTED', message: this.lost ?? 'not open' } })
    const id = this.#nextId++
    return new Promise((resolve) => {
      this.#pending.set(id, resolve as (result: CallResult) => void)
      this.#ws.send(JSON.stringify({ id, method, args }))
    })
  }

  /** Calls `listener` with every event the server broadcasts; returns the unsubscribe. */
  onEvent(listener: Listener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  close(): void {
    this.#closing = true
    this.#ws.close()
  }

  #receive(text: string): void {
    const frame = JSON.parse(text) as { id?: number; result?: CallResult; event?: EventName; payload?: unknown }
    if (frame.id !== undefined && frame.result !== undefined) {
      const settle = this.#pending.get(frame.id)
      this.#pending.delete(frame.id)
      settle?.(frame.result)
    } else if (frame.event !== undefined) {
      for (const listener of this.#listeners) listener(frame.event, frame.payload as Events[typeof frame.event])
    }
  }
}
