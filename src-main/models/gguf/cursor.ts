// A forward-only, chunked cursor over a GGUF file's header, and the bounds a hostile header meets.

import type { FileHandle } from 'node:fs/promises'
import { AppError } from '../../../src-shared/errors.ts'
import { GgufValueType } from './format.ts'

// Bounds a hostile header meets before anything is allocated. Real headers are far inside them:
// a 262k-token vocabulary with merges is ~20 MB and ~1M values.
const CHUNK_BYTES = 1 << 20
const MAX_HEADER_BYTES = 256 * 2 ** 20
export const MAX_STRING_BYTES = 16 * 2 ** 20
/** Keys, tensors and array elements together: caps the JS objects one header can make. */
export const MAX_VALUES = 1 << 24
export const MAX_ARRAY_DEPTH = 4

/** Bytes of each fixed-size metadata value type. */
export const SCALAR_BYTES: Record<number, number> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
}

export function invalid(file: string, problem: string): AppError {
  return new AppError('IMPORT_INVALID', `${file}: ${problem}`)
}

/** A forward-only cursor over the file that keeps one chunk in memory. */
export class Cursor {
  private buf = new Uint8Array(0)
  private view = new DataView(this.buf.buffer)
  /** The same bytes as a Buffer: its utf8 decoding beats TextDecoder on a vocabulary's short strings. */
  private text = Buffer.from(this.buf.buffer)
  /** File offset of buf[0]. */
  private start = 0
  /** File offset of the next byte to read. */
  pos = 0
  values = 0

  constructor(
    private fh: FileHandle,
    readonly file: string,
    readonly size: number,
  ) {}

  /** Whether the next `n` bytes are in memory: the common case needs no await. */
  has(n: number): boolean {
    return this.pos + n <= this.start + this.buf.length
  }

  /** Makes the next `n` bytes readable; `what` names them in the error when the file ends first. */
  async need(n: number, what: string): Promise<void> {
    if (this.has(n)) return
    if (this.pos + n > this.size) {
      throw invalid(this.file, `truncated: ${what} at byte ${this.pos} runs past the end of the file (${this.size} bytes)`)
    }
    if (this.pos + n > MAX_HEADER_BYTES) throw invalid(this.file, `header runs past ${MAX_HEADER_BYTES} bytes (at ${what})`)
    const length = Math.min(Math.max(n, CHUNK_BYTES), this.size - this.pos)
    const buf = new Uint8Array(length)
    const { bytesRead } = await this.fh.read(buf, 0, length, this.pos)
    if (bytesRead < n) throw invalid(this.file, `truncated: the file ended while reading ${what}`)
    this.buf = buf.subarray(0, bytesRead)
    this.view = new DataView(buf.buffer, 0, bytesRead)
    this.text = Buffer.from(buf.buffer, 0, bytesRead)
    this.start = this.pos
  }

  /** Counts values against MAX_VALUES before the caller allocates them. */
  spend(n: number, what: string): void {
    this.values += n
    if (this.values > MAX_VALUES) throw invalid(this.file, `absurd header: more than ${MAX_VALUES} values (at ${what})`)
  }

  // The readers below assume `has` or `need` covered them.
  u32(): number {
    const v = this.view.getUint32(this.pos - this.start, true)
    this.pos += 4
    return v
  }
  /** A u64 as a number, or Infinity past 2^53: counts and offsets need no BigInt. */
  u64(): number {
    const v = this.peekU64()
    this.pos += 8
    return v
  }
  peekU64(): number {
    const at = this.pos - this.start
    const hi = this.view.getUint32(at + 4, true)
    return hi >= 1 << 21 ? Infinity : hi * 2 ** 32 + this.view.getUint32(at, true)
  }
  scalar(type: number): number | bigint | boolean {
    const at = this.pos - this.start
    const v = this.view
    this.pos += SCALAR_BYTES[type]!
    switch (type) {
      case GgufValueType.UINT8:
        return v.getUint8(at)
      case GgufValueType.INT8:
        return v.getInt8(at)
      case GgufValueType.UINT16:
        return v.getUint16(at, true)
      case GgufValueType.INT16:
        return v.getInt16(at, true)
      case GgufValueType.UINT32:
        return v.getUint32(at, true)
      case GgufValueType.INT32:
        return v.getInt32(at, true)
      case GgufValueType.FLOAT32:
        return v.getFloat32(at, true)
      case GgufValueType.UINT64:
        return v.getBigUint64(at, true)
      case GgufValueType.INT64:
        return v.getBigInt64(at, true)
      case GgufValueType.FLOAT64:
        return v.getFloat64(at, true)
      default: {
        const b = v.getUint8(at)
        if (b > 1) throw invalid(this.file, `a bool at byte ${this.pos - 1} holds ${b}, not 0 or 1`)
        return b === 1
      }
    }
  }
  /** `n` bytes as UTF-8, invalid sequences as U+FFFD. */
  utf8(n: number): string {
    const at = this.pos - this.start
    this.pos += n
    return this.text.toString('utf8', at, at + n)
  }
  bytes(n: number): Uint8Array {
    const at = this.pos - this.start
    this.pos += n
    return this.buf.subarray(at, at + n)
  }
}
