// Main's side of reading attached files: each file is read in a process of its own
// (extract-main.ts), so parsing a 32 MiB PDF never holds main's event loop, a cancel ends the work
// at once, and a parser that a hostile file crashes or exhausts takes only that process down.

import { fork } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { AppError } from '../../src-shared/errors.ts'
import type { Extracted, TextExtractor } from '../app/documents.ts'
import type { ChildPort } from '../engine-host/spawner.ts'
import { PIECE_SIZE, type ExtractMessage, type ExtractRequest } from './extract-protocol.ts'

/** Starts the reader's process from its entry: forkExtractor, or Electron's utilityProcess. */
export type ExtractorSpawner = (entry: string) => ChildPort<ExtractRequest, ExtractMessage>

export interface ExtractorOptions {
  /** The process entry: a built .js file (dist/main/extract.js), or the .ts source (run through tsx). Default: the source. */
  entry?: string
  /** Default: forkExtractor. */
  spawn?: ExtractorSpawner
  /**
   * Once a file is read, a process is started for the next one and kept ready this long (default
   * five minutes; 0: none). A process takes 200-370 ms to start here, most of a small file's read.
   */
  spareIdleMs?: number
  /** Start the spare at once, so that the first file is not kept waiting either (the app's shells; tests leave it off). */
  readyAtStart?: boolean
}

interface ExtractOptions {
  signal?: AbortSignal
  onProgress?: (progress: { done: number; total: number }) => void
}

const SOURCE_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'extract-main.ts')
const SPARE_IDLE_MS = 5 * 60_000

type ReaderPort = ChildPort<ExtractRequest, ExtractMessage>

export class DocumentExtractor implements TextExtractor {
  readonly #entry: string
  readonly #spawn: ExtractorSpawner
  /** Each running read's way to end early, and when its process has gone. */
  readonly #running = new Set<{ stop(): void; exited: Promise<void> }>()
  readonly #spareIdleMs: number
  /** A process started for the next file, ended when it has waited spareIdleMs. */
  #spare: { child: ReaderPort; gone: boolean; exited: Promise<void>; timer: NodeJS.Timeout } | null = null
  #closed = false

  constructor(options: ExtractorOptions = {}) {
    this.#entry = options.entry ?? SOURCE_ENTRY
    this.#spawn = options.spawn ?? forkExtractor
    this.#spareIdleMs = options.spareIdleMs ?? SPARE_IDLE_MS
    if (options.readyAtStart === true) this.#prepareSpare()
  }

  /**
   * The text of the file `name` holding `bytes`. Settles only once its process has exited, so a
   * cancelled read leaves nothing running: CANCELLED when `signal` aborts, DOCUMENT_INVALID for a
   * file Hearth cannot read.
   */
  extract(bytes: Buffer, name: string, { signal, onProgress }: ExtractOptions = {}): Promise<Extracted> {
    const cancelled = (): AppError => new AppError('CANCELLED', `Reading ${name} was cancelled.`)
    if (signal?.aborted) return Promise.reject(cancelled())
    return new Promise((resolve, reject) => {
      const child = this.#reader()
      // One file per process: once it has answered, or the caller has given up, it is ended, and
      // the answer is given when it has gone.
      let settle: (() => void) | null = null
      const end = (outcome: () => void): void => {
        if (settle !== null) return
        settle = outcome
        signal?.removeEventListener('abort', stop)
        child.kill()
      }
      const stop = (): void => end(() => reject(cancelled()))
      let exited!: () => void
      const read = { stop, exited: new Promise<void>((r) => (exited = r)) }
      const text: string[] = []
      child.onMessage((message) => {
        if (settle !== null) return
        if (message.type === 'progress') onProgress?.({ done: message.done, total: message.total })
        else if (message.type === 'text') text.push(message.text)
        else if (message.type === 'done') end(() => resolve({ ...message.result, text: text.join('') }))
        else end(() => reject(AppError.fromData(message.error)))
      })
      child.onExit((code, exitSignal) => {
        this.#running.delete(read)
        exited()
        if (settle !== null) settle()
        else reject(new AppError('INTERNAL', `The reader of ${name} ended before it finished (${exitSignal ?? `exit code ${code}`}).`))
        this.#prepareSpare()
      })
      this.#running.add(read)
      signal?.addEventListener('abort', stop, { once: true })
      sendFile(child, bytes, name, () => settle !== null).catch((err: unknown) => {
        end(() => reject(new AppError('INTERNAL', `${name} could not be sent to its reader: ${(err as Error).message}`)))
      })
    })
  }

  /** Ends every read still running (each rejects CANCELLED) and the spare process, and waits for them to go. */
  async close(): Promise<void> {
    this.#closed = true
    const spare = this.#spare
    this.#spare = null
    if (spare !== null) {
      clearTimeout(spare.timer)
      spare.child.kill()
    }
    const running = [...this.#running]
    for (const read of running) read.stop()
    await Promise.all([...running.map((read) => read.exited), spare?.exited])
  }

  /** The spare process when it is still there, else a new one; the next spare is started once this read ends. */
  #reader(): ReaderPort {
    const spare = this.#spare
    this.#spare = null
    if (spare !== null) clearTimeout(spare.timer)
    return spare !== null && !spare.gone ? spare.child : this.#spawn(this.#entry)
  }

  #prepareSpare(): void {
    if (this.#closed || this.#spare !== null || this.#spareIdleMs <= 0) return
    const child = this.#spawn(this.#entry)
    let exited!: () => void
    const spare = {
      child,
      gone: false,
      exited: new Promise<void>((r) => (exited = r)),
      timer: setTimeout(() => {
        if (this.#spare !== spare) return
        this.#spare = null
        child.kill()
      }, this.#spareIdleMs),
    }
    // An idle spare never keeps the app from quitting.
    spare.timer.unref()
    child.onExit(() => {
      spare.gone = true
      exited()
      if (this.#spare === spare) {
        clearTimeout(spare.timer)
        this.#spare = null
      }
    })
    this.#spare = spare
  }
}

/** The file piece by piece, letting main's loop turn between pieces, then its name; stops once the read has ended. */
async function sendFile(child: ChildPort<ExtractRequest, ExtractMessage>, bytes: Buffer, name: string, ended: () => boolean): Promise<void> {
  for (let at = 0; at < bytes.length; at += PIECE_SIZE) {
    if (ended()) return
    child.send({ type: 'bytes', bytes: bytes.subarray(at, at + PIECE_SIZE) })
    await new Promise((resolve) => setImmediate(resolve))
  }
  if (!ended()) child.send({ type: 'read', name })
}

/**
 * child_process.fork of `entry` as a ChildPort, with structured-clone messages: fork's default,
 * JSON, spells a Buffer out as an array of numbers (32 MiB held main's loop 5 s). A .ts entry
 * runs through tsx.
 */
export function forkExtractor(entry: string): ChildPort<ExtractRequest, ExtractMessage> {
  const child = fork(entry, [], {
    execArgv: entry.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  // A send to a process already killed fails with EPIPE or a closed channel; its exit is what
  // reports the end, and the failed send must not end main as an unhandled 'error' event.
  const report = (err: Error | null): void => {
    const code = (err as NodeJS.ErrnoException | null)?.code
    if (err && code !== 'EPIPE' && code !== 'ECONNRESET' && code !== 'ERR_IPC_CHANNEL_CLOSED') console.error(`Document reader: ${err.message}`)
  }
  child.on('error', report)
  return {
    send: (message) => {
      if (child.connected) child.send(message, report)
    },
    onMessage: (handler) => child.on('message', (message) => handler(message as ExtractMessage)),
    onExit: (handler) => child.once('exit', handler),
    kill: () => child.kill('SIGKILL'),
    pid: child.pid,
  }
}
