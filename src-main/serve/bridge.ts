// The WebSocket bridge of browser mode: the same Api and events as Electron IPC, for one token.
// Nothing a client sends ends more than its own connection: a frame that breaks the protocol
// (invalid UTF-8, over MAX_FRAME_BYTES, not a call) closes that socket, and the rest go on.

import type { RawData, WebSocket } from 'ws'
import { WebSocketServer } from 'ws'
import type { CallResult } from '../../src-shared/api.ts'
import { AppError, type ErrorData } from '../../src-shared/errors.ts'
import type { App } from '../app/app.ts'
import { dispatch } from '../app/dispatch.ts'
import { Uploads } from './uploads.ts'

/**
 * Client → server: a call, whose `uploads` name the arguments (by index) that came ahead of it as
 * uploads, or an upload's begin (its chunks are binary frames: see uploads.ts).
 */
export type ClientFrame =
  | { id: number; method: string; args: unknown[]; uploads?: Record<string, number> }
  | { upload: number; bytes: number }

/** Server → client: a call's result, an event, or an upload dropped before its call. */
export type ServerFrame =
  | { id: number; result: CallResult }
  | { event: string; payload: unknown }
  | { upload: number; error: ErrorData }

/** Calls are small; anything large travels as an upload. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024

export interface BridgeOptions {
  /** How long an upload may wait for its next chunk or its call; tests shorten it. */
  uploadIdleMs?: number
}

export function createBridge(app: App, options: BridgeOptions = {}): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES })
  wss.on('error', (err) => console.error(`Browser mode's WebSocket server: ${err.message}`))
  wss.on('connection', (socket: WebSocket) => {
    const uploads = new Uploads((upload, error) => send(socket, { upload, error }), options.uploadIdleMs)
    const unsubscribe = app.events.subscribe((event, payload) => send(socket, { event, payload }))
    // ws closes the socket itself after a protocol error (1007 bad UTF-8, 1009 too big); without
    // a listener the error would be thrown, and would end the process.
    socket.on('error', (err) => console.error(`Browser mode closed a connection: ${err.message}`))
    socket.on('close', () => {
      unsubscribe()
      uploads.close()
    })
    socket.on('message', (data, isBinary) => {
      if (isBinary) return uploads.chunk(toBuffer(data))
      const frame = parseFrame(data.toString())
      if (frame === null) return socket.close(1007, 'Malformed frame')
      if ('upload' in frame) {
        if (!uploads.begin(frame.upload, frame.bytes)) socket.close(1007, 'Malformed frame')
        return
      }
      void call(app, uploads, frame)
        .then((result) => send(socket, { id: frame.id, result }))
        .catch((err: unknown) => send(socket, { id: frame.id, result: { ok: false, error: AppError.toData(err) } }))
    })
  })
  return wss
}

async function call(app: App, uploads: Uploads, frame: Extract<ClientFrame, { id: number }>): Promise<CallResult> {
  const args = [...frame.args]
  try {
    for (const [index, upload] of Object.entries(frame.uploads ?? {})) {
      const at = Number(index)
      if (!Number.isInteger(at) || at < 0 || at >= args.length) throw new AppError('BAD_REQUEST', `Upload ${upload} names no argument`)
      args[at] = uploads.take(upload)
    }
  } catch (err) {
    return { ok: false, error: AppError.toData(err) }
  }
  return dispatch(app.api, frame.method, args)
}

function parseFrame(text: string): ClientFrame | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const { id, method, args, uploads, upload, bytes } = value as Record<string, unknown>
  if (typeof upload === 'number' && typeof bytes === 'number') return { upload, bytes }
  if (typeof id !== 'number' || typeof method !== 'string' || !Array.isArray(args)) return null
  if (uploads === undefined) return { id, method, args }
  if (typeof uploads !== 'object' || uploads === null || !Object.values(uploads).every((u) => typeof u === 'number')) return null
  return { id, method, args, uploads: uploads as Record<string, number> }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
}

function send(socket: WebSocket, frame: ServerFrame): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame))
}
