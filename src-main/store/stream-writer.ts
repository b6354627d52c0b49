// Writes a reply while it streams: appended text is buffered and reaches the database at
// least every `intervalMs`, so a crash loses at most one interval of text.

import { AppError } from '../../src-shared/errors.ts'
import type { GenerationStats, Message } from '../../src-shared/types.ts'
import { encodeContent, isClean, type StoredContent } from './content.ts'

export interface StreamOutcome {
  status: 'complete' | 'interrupted' | 'error'
  stats?: GenerationStats | null
  error?: string | null
}

/** The row operations a writer needs; each returns false when no streaming row has that id. */
export interface StreamIo {
  append(id: string, piece: string): boolean
  replace(id: string, content: StoredContent): boolean
  /** Writes the outcome and marks the conversation updated; returns the finished message. */
  complete(id: string, outcome: StreamOutcome): Message
  transaction<T>(fn: () => T): T
}

export const FLUSH_INTERVAL_MS = 250

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff
}

export class StreamWriter {
  readonly messageId: string
  readonly #io: StreamIo
  readonly #intervalMs: number
  /** Everything appended so far, flushed or not. */
  #text: string
  /** How much of #text the row holds. */
  #flushed: number
  /** The row's TEXT holds the text exactly, so new clean text can be appended in SQL instead of rewritten. */
  #exact: boolean
  #timer: NodeJS.Timeout | null = null
  /** A failed timed flush, reported by the next append. */
  #failure: unknown = null
  #finished = false

  constructor(io: StreamIo, messageId: string, storedText: string, intervalMs = FLUSH_INTERVAL_MS) {
    this.#io = io
    this.messageId = messageId
    this.#text = storedText
    this.#flushed = storedText.length
    this.#exact = isClean(storedText)
    this.#intervalMs = intervalMs
  }

  get text(): string {
    return this.#text
  }

  /** Length (UTF-16 code units) of the text already in the database. */
  get flushedLength(): number {
    return this.#flushed
  }

  append(chunk: string): void {
    this.#checkOpen()
    if (this.#failure !== null) throw this.#failure
    this.#text += chunk
    this.#timer ??= setTimeout(() => {
      this.#timer = null
      try {
        this.#write(false)
      } catch (err) {
        this.#failure = err
      }
    }, this.#intervalMs)
  }

  flush(): void {
    this.#checkOpen()
    this.#clearTimer()
    this.#write(false)
  }

  /** Writes the rest of the text and the outcome together. Can be retried if it throws. */
  finish(outcome: StreamOutcome): Message {
    this.#checkOpen()
    this.#clearTimer()
    const message = this.#io.transaction(() => {
      this.#write(true)
      return this.#io.complete(this.messageId, outcome)
    })
    this.#finished = true
    return message
  }

  #write(final: boolean): void {
    let end = this.#text.length
    // Half a surrogate pair waits for its other half, so a clean text stays clean when appended to.
    if (!final && end > this.#flushed && isHighSurrogate(this.#text.charCodeAt(end - 1))) end -= 1
    if (end === this.#flushed) return
    const piece = this.#text.slice(this.#flushed, end)
    let written: boolean
    if (this.#exact && isClean(piece)) {
      written = this.#io.append(this.messageId, piece)
    } else {
      const content = encodeContent(this.#text.slice(0, end))
      written = this.#io.replace(this.messageId, content)
      this.#exact = content.utf16 === null
    }
    if (!written) throw new AppError('NOT_FOUND', 'The reply being written was deleted or finished elsewhere.')
    this.#flushed = end
    this.#failure = null
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #checkOpen(): void {
    if (this.#finished) throw new AppError('CONFLICT', 'This reply is already finished.')
  }
}
