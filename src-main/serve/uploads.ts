// Large call arguments over the bridge (an import file; documents later): no frame carries more
// than a chunk of one, whatever its size. The client announces an upload, sends its UTF-8 in
// binary chunks, then makes the call, naming the uploads that its arguments come from:
//
//   { upload: 7, bytes: 62914560 }                           text frame: begin
//   [u32 LE 7][≤ UPLOAD_CHUNK_BYTES of the text's UTF-8]      binary frames, in order
//   { id: 12, method, args: [null, "x.json"], uploads: { "0": 7 } }     the call
//
// A socket holds at most MAX_UPLOAD_BYTES in flight; an upload that breaks a rule, or that waits
// UPLOAD_IDLE_MS for its next chunk or its call, is dropped and the client told with
// { upload: 7, error: { code, message } }. Closing the socket drops all of its uploads.

import { AppError, type ErrorData } from '../../src-shared/errors.ts'
import { MAX_IMPORT_CHARS } from '../app/schemas.ts'

export const UPLOAD_CHUNK_BYTES = 1024 * 1024
/** The largest argument the Api takes, an import file, as bytes of a file. */
export const MAX_UPLOAD_BYTES = MAX_IMPORT_CHARS
export const UPLOAD_IDLE_MS = 30_000
/** The 4-byte upload id in front of each chunk. */
export const CHUNK_HEADER_BYTES = 4
const MAX_OPEN_UPLOADS = 16

interface Upload {
  bytes: number
  received: number
  /** Decoded chunk by chunk as they come (stream: true keeps a character split between chunks whole). */
  decoder: TextDecoder
  text: string[]
  timer: NodeJS.Timeout
}

/** One socket's uploads in flight. */
export class Uploads {
  readonly #open = new Map<number, Upload>()
  readonly #onDropped: (id: number, error: ErrorData) => void
  readonly #idleMs: number

  constructor(onDropped: (id: number, error: ErrorData) => void, idleMs = UPLOAD_IDLE_MS) {
    this.#onDropped = onDropped
    this.#idleMs = idleMs
  }

  /** A begin frame; false when `id` cannot be an upload id at all (a malformed frame). */
  begin(id: number, bytes: number): boolean {
    if (!isUploadId(id)) return false
    const inFlight = [...this.#open.values()].reduce((n, u) => n + u.bytes, 0)
    if (this.#open.has(id)) this.#drop(id, 'this upload id is in use')
    else if (!Number.isSafeInteger(bytes) || bytes < 0) this.#drop(id, 'its size is not a number of bytes')
    else if (inFlight + bytes > MAX_UPLOAD_BYTES) this.#drop(id, `it is ${mib(bytes)}, and at most ${mib(MAX_UPLOAD_BYTES)} can be sent at once`)
    else if (this.#open.size >= MAX_OPEN_UPLOADS) this.#drop(id, `at most ${MAX_OPEN_UPLOADS} uploads can be open at once`)
    else {
      const timer = setTimeout(() => this.#drop(id, `nothing came for ${this.#idleMs / 1000} s`), this.#idleMs).unref()
      this.#open.set(id, { bytes, received: 0, decoder: new TextDecoder(), text: [], timer })
    }
    return true
  }

  /** A binary frame: the upload id, then its next piece. Chunks of an upload already dropped are ignored. */
  chunk(frame: Buffer): void {
    if (frame.length < CHUNK_HEADER_BYTES) return
    const id = frame.readUInt32LE(0)
    const upload = this.#open.get(id)
    if (upload === undefined) return
    const data = frame.subarray(CHUNK_HEADER_BYTES)
    if (data.length > UPLOAD_CHUNK_BYTES) return this.#drop(id, `a chunk is ${mib(data.length)}, over ${mib(UPLOAD_CHUNK_BYTES)}`)
    if (upload.received + data.length > upload.bytes) return this.#drop(id, `more than the ${upload.bytes} bytes announced came`)
    upload.received += data.length
    upload.text.push(upload.decoder.decode(data, { stream: true }))
    upload.timer.refresh()
  }

  /** The whole text of a finished upload, for the call that names it; the upload is gone afterwards. */
  take(id: unknown): string {
    const upload = isUploadId(id) ? this.#open.get(id) : undefined
    if (upload === undefined) throw new AppError('BAD_REQUEST', `Upload ${String(id)} was not sent, or was dropped.`)
    this.#forget(id as number)
    if (upload.received !== upload.bytes) {
      throw new AppError('BAD_REQUEST', `Upload ${String(id)} ended after ${upload.received} of its ${upload.bytes} bytes.`)
    }
    upload.text.push(upload.decoder.decode())
    return upload.text.join('')
  }

  /** The socket closed: nothing of its uploads is kept. */
  close(): void {
    for (const id of [...this.#open.keys()]) this.#forget(id)
  }

  #drop(id: number, problem: string): void {
    this.#forget(id)
    this.#onDropped(id, { code: 'BAD_REQUEST', message: `The upload was not accepted: ${problem}.` })
  }

  #forget(id: number): void {
    clearTimeout(this.#open.get(id)?.timer)
    this.#open.delete(id)
  }
}

function isUploadId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 0xffffffff
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}
