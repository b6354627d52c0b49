// What main and the document reader's process (extract-main.ts) say to each other.

import type { ErrorData } from '../../src-shared/errors.ts'
import type { Extracted } from '../app/documents.ts'

/**
 * Bytes, or characters of text, per message. Main copies each message whole on its own thread: a
 * 32 MiB file in one message held main's loop ~100 ms going out and ~250 ms coming back as text
 * (measured here); in 1 MiB pieces no stall passed ~30 ms.
 */
export const PIECE_SIZE = 2 ** 20

/** Main to the reader: the file in pieces (as Uint8Array: structured clone drops Buffer's class), then its name. */
export type ExtractRequest = { type: 'bytes'; bytes: Uint8Array } | { type: 'read'; name: string }

/** The reader to main: progress, then the text in pieces and what it was read as; or an error. */
export type ExtractMessage =
  | { type: 'progress'; done: number; total: number }
  | { type: 'text'; text: string }
  | { type: 'done'; result: Omit<Extracted, 'text'> }
  | { type: 'error'; error: ErrorData }
