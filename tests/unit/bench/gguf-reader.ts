// A minimal GGUF reader for the tests: parses what tools/bench/gguf.ts writes back into values.

import { GGUF_MAGIC, GgufValueType } from '../../../tools/bench/gguf.ts'

export type ReadValue = number | bigint | boolean | string | ReadValue[]

export interface ReadTensorInfo {
  name: string
  ne: number[]
  type: number
  offset: number
}

export interface ReadGguf {
  version: number
  metadata: Map<string, ReadValue>
  tensors: ReadTensorInfo[]
  /** Offset of the data section: end of the tensor table rounded up to the alignment. */
  dataStart: number
  /** End of the tensor table, before padding. */
  headerEnd: number
}

export function readGguf(bytes: Uint8Array): ReadGguf {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = 0
  const u32 = () => {
    const v = view.getUint32(pos, true)
    pos += 4
    return v
  }
  const u64 = () => {
    const v = view.getBigUint64(pos, true)
    pos += 8
    return v
  }
  const str = () => {
    const n = Number(u64())
    const s = new TextDecoder().decode(bytes.subarray(pos, pos + n))
    pos += n
    return s
  }
  const scalar = (type: number): ReadValue => {
    switch (type) {
      case GgufValueType.UINT32:
        return u32()
      case GgufValueType.INT32: {
        const v = view.getInt32(pos, true)
        pos += 4
        return v
      }
      case GgufValueType.FLOAT32: {
        const v = view.getFloat32(pos, true)
        pos += 4
        return v
      }
      case GgufValueType.BOOL:
        return bytes[pos++] === 1
      case GgufValueType.STRING:
        return str()
      case GgufValueType.UINT64:
        return u64()
      case GgufValueType.ARRAY: {
        const itemType = u32()
        const n = Number(u64())
        return Array.from({ length: n }, () => scalar(itemType))
      }
      default:
        throw new Error(`unexpected gguf type ${type}`)
    }
  }
  if (u32() !== GGUF_MAGIC) throw new Error('not a GGUF file')
  const version = u32()
  const tensorCount = Number(u64())
  const kvCount = Number(u64())
  const metadata = new Map<string, ReadValue>()
  for (let i = 0; i < kvCount; i++) {
    const key = str()
    metadata.set(key, scalar(u32()))
  }
  const tensors: ReadTensorInfo[] = []
  for (let i = 0; i < tensorCount; i++) {
    const name = str()
    const nDims = u32()
    const ne = Array.from({ length: nDims }, () => Number(u64()))
    const type = u32()
    tensors.push({ name, ne, type, offset: Number(u64()) })
  }
  const alignment = (metadata.get('general.alignment') as number | undefined) ?? 32
  return { version, metadata, tensors, headerEnd: pos, dataStart: Math.ceil(pos / alignment) * alignment }
}
