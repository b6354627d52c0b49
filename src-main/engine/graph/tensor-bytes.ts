// A float constant's bytes as stored, inline or in its external data file, for a pass that must
// read a large constant's values (the rotary fusion's cos_cached / sin_cached tables).

import { closeSync, openSync, readSync } from 'node:fs'
import path from 'node:path'
import onnxProto from 'onnx-proto'

const { onnx } = onnxProto
type ITensorProto = onnxProto.onnx.ITensorProto

const { FLOAT, FLOAT16, BFLOAT16, DOUBLE } = onnx.TensorProto.DataType
const ELEMENT_BYTES: Partial<Record<number, number>> = { [FLOAT]: 4, [FLOAT16]: 2, [BFLOAT16]: 2, [DOUBLE]: 8 }

/**
 * Larger constants are not read. A table sized by an absurd max_position_embeddings (issue 15)
 * then stays unfused instead of costing its size in memory at every load.
 */
export const MAX_READ_BYTES = 256 * 2 ** 20

export interface TensorBytes {
  dims: number[]
  elementBytes: number
  /** Little-endian, as ONNX stores raw data; dims' product times elementBytes long. */
  bytes: Uint8Array
}

/** The tensor's bytes; null when it is not a float type, is too large, or its data cannot be read. */
export function floatTensorBytes(t: ITensorProto, externalDir: string | null): TensorBytes | null {
  const elementBytes = ELEMENT_BYTES[t.dataType ?? 0]
  if (elementBytes === undefined) return null
  const dims = (t.dims ?? []).map(Number)
  const length = dims.reduce((n, d) => n * d, 1) * elementBytes
  if (length > MAX_READ_BYTES) return null
  let bytes: Uint8Array | null = null
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) bytes = readExternal(t, externalDir, length)
  else if (t.rawData && t.rawData.length > 0) bytes = t.rawData
  else if (t.dataType === FLOAT && t.floatData?.length) bytes = new Uint8Array(Float32Array.from(t.floatData).buffer)
  else if (t.dataType === DOUBLE && t.doubleData?.length) bytes = new Uint8Array(Float64Array.from(t.doubleData).buffer)
  // float16 and bfloat16 values kept one per int32, as their bit patterns.
  else if (t.int32Data?.length) bytes = new Uint8Array(Uint16Array.from(t.int32Data).buffer)
  return bytes !== null && bytes.length === length ? { dims, elementBytes, bytes } : null
}

/** The tensor's bytes from `externalDir`/location at its offset; null when unreadable or not where it says. */
function readExternal(t: ITensorProto, externalDir: string | null, length: number): Uint8Array | null {
  const entry = (key: string): string | undefined => t.externalData?.find((e) => e.key === key)?.value ?? undefined
  const location = entry('location')
  if (externalDir === null || !location) return null
  const file = path.resolve(externalDir, location)
  // onnxruntime refuses data outside the model's folder; so does this.
  const rel = path.relative(externalDir, file)
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null
  const stored = entry('length')
  if (stored !== undefined && Number(stored) !== length) return null
  const offset = Number(entry('offset') ?? 0)
  let fd: number | null = null
  try {
    fd = openSync(file, 'r')
    const out = Buffer.alloc(length)
    for (let at = 0; at < length; ) {
      const n = readSync(fd, out, at, length - at, offset + at)
      if (n === 0) return null
      at += n
    }
    return out
  } catch {
    // Missing or unreadable: the table is left unfused, and onnxruntime's own load says what is wrong.
    return null
  } finally {
    if (fd !== null) closeSync(fd)
  }
}
