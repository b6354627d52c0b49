// The WebSocket bridge of browser mode: the same Api and events as Electron IPC, for one token.

import { WebSocketServer, type WebSocket } from 'ws'
import type { CallResult } from '../../src-shared/api.ts'
import type { App } from '../app/app.ts'
import { dispatch } from '../app/dispatch.ts'

/** Client → server: a call. Server → client: a call's result, or an event. */
export type ClientFrame = { id: number; method: string; args: unknown[] }
export type ServerFrame =
  | { id: number; result: CallResult }
  | { event: string; payload: unknown }

export const MAX_FRAME_BYTES = 16 * 1024 * 1024

export function createBridge(app: App): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES })
  wss.on('connection', (socket: WebSocket) => {
    const unsubscribe = app.events.subscribe((event, payload) => send(socket, { event, payload }))
    socket.on('close', unsubscribe)
    socket.on('message', (data, isBinary) => {
      if (isBinary) return socket.close(1003, 'Text frames only')
      const frame = parseFrame(data.toString())
      if (!frame) return socket.close(1007, 'Malformed frame')
      void dispatch(app.api, frame.method, frame.args).then((result) => send(socket, { id: frame.id, result }))
    })
  })
  return wss
}

function parseFrame(text: string): ClientFrame | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const { id, method, args } = value as Record<string, unknown>
  if (typeof id !== 'number' || typeof method !== 'string' || !Array.isArray(args)) return null
  return { id, method, args }
}

function send(socket: WebSocket, frame: ServerFrame): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame))
}
