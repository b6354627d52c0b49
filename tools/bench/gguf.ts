// A GGUF v3 writer: header, typed metadata, tensor table, then aligned tensor data streamed to disk.
//
// Layout (ggml's gguf.md): magic "GGUF", u32 version, u64 tensor count, u64 metadata count,
// metadata key/value pairs, tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset),
// zero padding to `general.alignment`, then the data section. A tensor's offset is relative to the
// start of the data section and is a multiple of the alignment. ne[0] is the fastest-varying
// dimension: a PyTorch weight [out, in] is ne = [in, out].

import { open } from 'node:fs/promises'
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgufValueType } from '../../src-main/models/gguf/format.ts'
import { GgmlType } from '../../src-main/models/gguf/gguf-types.ts'

export { GgmlType }

/** The tensor types this writer emits. */
export type WritableType = typeof GgmlType.F32 | typeof GgmlType.F16 | typeof GgmlType.Q4_0

type ScalarKind = 'uint32' | 'int32' | 'float32' | 'bool' | 'string' | 'uint64'

export type GgufValue =
  | { kind: 'uint32' | 'int32' | 'float32'; value: number }
  | { kind: 'uint64'; value: bigint }
  | { kind: 'bool'; value: boolean }
  | { kind: 'string'; value: string }
  | { kind: 'array'; of: 'int32' | 'float32'; values: ArrayLike<number> }
  | { kind: 'array'; of: 'string'; values: readonly string[] }

export type GgufMetadata = [key: string, value: GgufValue][]

export interface GgufTensor {
  name: string
  /** ggml order: ne[0] fastest-varying. */
  ne: number[]
  type: WritableType
  /** Bytes of the tensor's data, exactly as they are written. */
  byteLength: number
  /** Produces the data when it is written, so a 2 GB model never sits in memory whole. */
  data: () => Uint8Array
}

export interface GgufLayout {
  header: Uint8Array
  /** Offset of each tensor (same order as given), relative to the data section. */
  offsets: number[]
  /** Absolute file offset of the data section: header length rounded up to the alignment. */
  dataStart: number
  /** Absolute file size once every tensor is written. */
  fileSize: number
}

const SCALAR_TYPE: Record<ScalarKind, number> = {
  uint32: GgufValueType.UINT32,
  int32: GgufValueType.INT32,
  float32: GgufValueType.FLOAT32,
  bool: GgufValueType.BOOL,
  string: GgufValueType.STRING,
  uint64: GgufValueType.UINT64,
}

/** Growable little-endian byte sink. */
class ByteSink {
  private buf = new Uint8Array(1 << 16)
  private view = new DataView(this.buf.buffer)
  length = 0

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u32(v: number): void {
    this.reserve(4)
    this.view.setUint32(this.length, v, true)
    this.length += 4
  }
  i32(v: number): void {
    this.reserve(4)
    this.view.setInt32(this.length, v, true)
    this.length += 4
  }
  f32(v: number): void {
    this.reserve(4)
    this.view.setFloat32(this.length, v, true)
    this.length += 4
  }
  u64(v: bigint | number): void {
    this.reserve(8)
    this.view.setBigUint64(this.length, BigInt(v), true)
    this.length += 8
  }
  u8(v: number): void {
    this.reserve(1)
    this.buf[this.length++] = v
  }
  str(s: string): void {
    const bytes = new TextEncoder().encode(s)
    this.u64(bytes.length)
    this.reserve(bytes.length)
    this.buf.set(bytes, this.length)
    this.length += bytes.length
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}

function writeScalar(sink: ByteSink, kind: ScalarKind, value: number | bigint | boolean | string): void {
  switch (kind) {
    case 'uint32':
      return sink.u32(value as number)
    case 'int32':
      return sink.i32(value as number)
    case 'float32':
      return sink.f32(value as number)
    case 'bool':
      return sink.u8(value ? 1 : 0)
    case 'string':
      return sink.str(value as string)
    case 'uint64':
      return sink.u64(value as bigint)
  }
}

function writeValue(sink: ByteSink, v: GgufValue): void {
  if (v.kind === 'array') {
    sink.u32(GgufValueType.ARRAY)
    sink.u32(SCALAR_TYPE[v.of])
    sink.u64(v.values.length)
    for (let i = 0; i < v.values.length; i++) writeScalar(sink, v.of, v.values[i]!)
    return
  }
  sink.u32(SCALAR_TYPE[v.kind])
  writeScalar(sink, v.kind, v.value)
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment
}

/** Bytes of a tensor of `count` elements stored as `type`. */
export function tensorBytes(type: WritableType, count: number): number {
  switch (type) {
    case GgmlType.F32:
      return count * 4
    case GgmlType.F16:
      return count * 2
    case GgmlType.Q4_0:
      if (count % 32 !== 0) throw new Error(`Q4_0 needs a multiple of 32 elements, got ${count}`)
      return (count / 32) * 18
  }
}

/** Encodes everything before the data section and places each tensor at an aligned offset. */
export function layoutGguf(metadata: GgufMetadata, tensors: readonly GgufTensor[]): GgufLayout {
  const alignmentEntry = metadata.find(([key]) => key === 'general.alignment')
  const alignment =
    alignmentEntry && alignmentEntry[1].kind === 'uint32' ? alignmentEntry[1].value : GGUF_DEFAULT_ALIGNMENT
  const names = new Set<string>()
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`duplicate tensor name ${t.name}`)
    names.add(t.name)
    const count = t.ne.reduce((a, b) => a * b, 1)
    if (tensorBytes(t.type, count) !== t.byteLength) {
      throw new Error(`tensor ${t.name}: ${t.byteLength} bytes do not match ne [${t.ne}] of type ${t.type}`)
    }
  }

  const sink = new ByteSink()
  sink.u32(GGUF_MAGIC)
  sink.u32(GGUF_VERSION)
  sink.u64(tensors.length)
  sink.u64(metadata.length)
  for (const [key, value] of metadata) {
    sink.str(key)
    writeValue(sink, value)
  }
  const offsets: number[] = []
  let offset = 0
  for (const t of tensors) {
    sink.str(t.name)
    sink.u32(t.ne.length)
    for (const d of t.ne) sink.u64(d)
    sink.u32(t.type)
    sink.u64(offset)
    offsets.push(offset)
    offset = alignUp(offset + t.byteLength, alignment)
  }
  const header = sink.bytes()
  const dataStart = alignUp(header.length, alignment)
  const last = tensors.length - 1
  const fileSize = last < 0 ? dataStart : dataStart + offsets[last]! + tensors[last]!.byteLength
  return { header, offsets, dataStart, fileSize }
}

/** Writes a GGUF file; tensor data is produced and written one tensor at a time. */
export async function writeGguf(file: string, metadata: GgufMetadata, tensors: readonly GgufTensor[]): Promise<GgufLayout> {
  const layout = layoutGguf(metadata, tensors)
  const fh = await open(file, 'w')
  try {
    await fh.write(layout.header, 0, layout.header.length, 0)
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!
      const bytes = t.data()
      if (bytes.byteLength !== t.byteLength) {
        throw new Error(`tensor ${t.name} produced ${bytes.byteLength} bytes, declared ${t.byteLength}`)
      }
      await fh.write(bytes, 0, bytes.byteLength, layout.dataStart + layout.offsets[i]!)
    }
    // Padding between tensors is left as a hole (reads back as zeros); the file ends at the last byte.
    await fh.truncate(layout.fileSize)
  } finally {
    await fh.close()
  }
  return layout
}

/** Float32 to IEEE half, round to nearest even. */
export function toHalf(x: number): number {
  const f = new Float32Array([x])
  const u = new Uint32Array(f.buffer)[0]!
  const sign = (u >>> 16) & 0x8000
  const exp = (u >>> 23) & 0xff
  let mant = u & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0)
  const e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    const half = mant >>> shift
    const rem = mant & ((1 << shift) - 1)
    const mid = 1 << (shift - 1)
    return sign | (rem > mid || (rem === mid && half & 1) ? half + 1 : half)
  }
  const half = (e << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  // A mantissa that rounds up past 0x3ff carries into the exponent, as it should.
  return sign | (rem > 0x1000 || (rem === 0x1000 && half & 1) ? half + 1 : half)
}

/**
 * ggml's Q4_0: blocks of 32 values, each an f16 scale d then 16 bytes of 4-bit codes;
 * value = (code - 8) * d, low nibbles hold elements 0..15 and high nibbles 16..31.
 */
export function quantizeQ4_0(src: Float32Array): Uint8Array {
  if (src.length % 32 !== 0) throw new Error(`Q4_0 needs a multiple of 32 elements, got ${src.length}`)
  const blocks = src.length / 32
  const out = new Uint8Array(blocks * 18)
  const view = new DataView(out.buffer)
  for (let b = 0; b < blocks; b++) {
    const base = b * 32
    let max = 0
    let amax = 0
    for (let j = 0; j < 32; j++) {
      const v = src[base + j]!
      if (Math.abs(v) > amax) {
        amax = Math.abs(v)
        max = v
      }
    }
    const d = max / -8
    const id = d ? 1 / d : 0
    view.setUint16(b * 18, toHalf(d), true)
    for (let j = 0; j < 16; j++) {
      const lo = Math.min(15, Math.trunc(src[base + j]! * id + 8.5))
      const hi = Math.min(15, Math.trunc(src[base + j + 16]! * id + 8.5))
      out[b * 18 + 2 + j] = lo | (hi << 4)
    }
  }
  return out
}
