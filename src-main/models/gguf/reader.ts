// Reads a GGUF file's header (metadata, tensor table) in chunks, and one tensor's bytes on demand.
//
// Layout (ggml's gguf.md), little-endian: magic "GGUF", u32 version, u64 tensor count, u64
// metadata count, key/value pairs, tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 type, u64
// offset relative to the data section), then the data section at the header's end rounded up to
// `general.alignment`. v2 and v3 read alike (v3 only added big-endian files); v1 had u32 counts.

import { open, type FileHandle } from 'node:fs/promises'
import { AppError } from '../../../src-shared/errors.ts'
import { Cursor, invalid, MAX_ARRAY_DEPTH, MAX_STRING_BYTES, MAX_VALUES, SCALAR_BYTES } from './cursor.ts'
import { GGML_MAX_DIMS, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufValueType, ggmlTypeTraits } from './format.ts'
import type { GgufHeader, GgufTensorInfo, GgufValue } from './gguf-types.ts'

/** readTensor's largest single read (fs reads stop short of 2 GiB). */
const READ_BYTES = 1 << 30

async function openFile(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new AppError(code === 'ENOENT' ? 'NOT_FOUND' : 'IMPORT_INVALID', `${file}: cannot open (${code ?? String(err)})`)
  }
}

/** A u64 count or length as a number, refused past `max`, which keeps it far from 2^53. */
async function readCount(c: Cursor, what: string, max: number): Promise<number> {
  if (!c.has(8)) await c.need(8, what)
  const n = c.u64()
  if (n > max) throw invalid(c.file, `absurd ${what}: ${n === Infinity ? 'past 2^53' : n} (at most ${max})`)
  return n
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Keys and tensor names must be UTF-8 (gguf.md). A value string that is not is decoded with
 * U+FFFD rather than refused: one odd vocabulary entry should not make a whole model unreadable.
 */
async function readString(c: Cursor, what: string, strict: boolean): Promise<string> {
  const n = await readCount(c, `length of ${what}`, MAX_STRING_BYTES)
  if (!c.has(n)) await c.need(n, what)
  if (!strict) return c.utf8(n)
  try {
    return utf8.decode(c.bytes(n))
  } catch {
    throw invalid(c.file, `${what} at byte ${c.pos - n} is not valid UTF-8`)
  }
}

/**
 * A value string read without awaiting when its bytes are in memory (nearly always), else
 * undefined: a vocabulary is ~10^6 strings, and a promise each costs more than the decoding.
 */
function stringNow(c: Cursor): string | undefined {
  if (!c.has(8)) return undefined
  const n = c.peekU64()
  if (n > MAX_STRING_BYTES || !c.has(8 + n)) return undefined
  c.u64()
  return c.utf8(n)
}

async function readValue(c: Cursor, type: number, key: string, depth: number): Promise<GgufValue> {
  if (type === GgufValueType.STRING) return readString(c, `the value of '${key}'`, false)
  const size = SCALAR_BYTES[type]
  if (size !== undefined) {
    await c.need(size, `the value of '${key}'`)
    return c.scalar(type)
  }
  if (type !== GgufValueType.ARRAY) throw invalid(c.file, `metadata '${key}' has unknown value type ${type}`)
  if (depth >= MAX_ARRAY_DEPTH) throw invalid(c.file, `metadata '${key}' nests arrays deeper than ${MAX_ARRAY_DEPTH}`)
  await c.need(4, `the array type of '${key}'`)
  const itemType = c.u32()
  const length = await readCount(c, `length of the array '${key}'`, MAX_VALUES)
  const itemSize = SCALAR_BYTES[itemType]
  // A string takes at least its u64 length, a nested array its type and length: a length the
  // file cannot hold is refused before anything is allocated for it.
  const minBytes = itemSize ?? (itemType === GgufValueType.STRING ? 8 : 12)
  if (length * minBytes > c.size - c.pos) {
    throw invalid(c.file, `truncated: the array '${key}' claims ${length} elements, more than the rest of the file holds`)
  }
  c.spend(length, `the array '${key}'`)
  const out: GgufValue[] = new Array<GgufValue>(length)
  for (let i = 0; i < length; i++) {
    if (itemSize !== undefined) {
      if (!c.has(itemSize)) await c.need(itemSize, `element ${i} of '${key}'`)
      out[i] = c.scalar(itemType)
    } else if (itemType === GgufValueType.STRING) {
      out[i] = stringNow(c) ?? (await readString(c, `element ${i} of '${key}'`, false))
    } else {
      out[i] = await readValue(c, itemType, `${key}[${i}]`, depth + 1)
    }
  }
  return out
}

/** The integer in a metadata value, or undefined when it is not an integer. */
function integer(v: GgufValue | undefined): number | undefined {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n ? Number(v) : undefined
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined
}

async function readTensorInfo(c: Cursor, index: number): Promise<GgufTensorInfo> {
  const name = await readString(c, `the name of tensor ${index}`, true)
  await c.need(4, `the dimension count of '${name}'`)
  const nDims = c.u32()
  if (nDims > GGML_MAX_DIMS) throw invalid(c.file, `tensor '${name}' has ${nDims} dimensions (at most ${GGML_MAX_DIMS})`)
  const ne: number[] = []
  for (let d = 0; d < nDims; d++) ne.push(await readCount(c, `ne[${d}] of '${name}'`, Number.MAX_SAFE_INTEGER))
  await c.need(12, `the type and offset of '${name}'`)
  const type = c.u32()
  const offset = c.u64()
  const traits = ggmlTypeTraits(type)
  if (!traits) throw invalid(c.file, `tensor '${name}' has unknown ggml type ${type}`)
  const rowLength = ne[0] ?? 1
  if (rowLength % traits.blockSize !== 0) {
    throw invalid(c.file, `tensor '${name}': ne[0] = ${rowLength} is not a multiple of ${traits.name}'s block of ${traits.blockSize}`)
  }
  let byteLength = (rowLength / traits.blockSize) * traits.typeSize
  for (let d = 1; d < ne.length; d++) byteLength *= ne[d]!
  if (!Number.isSafeInteger(byteLength) || byteLength > c.size || offset > c.size) {
    throw invalid(c.file, `truncated: tensor '${name}' [${ne.join(', ')}] ${traits.name} does not fit in the file (${c.size} bytes)`)
  }
  // `offset` is relative to the data section until readGgufHeader knows where that starts.
  return { name, ne, type, offset, byteLength }
}

/** Reads the metadata and tensor table of a GGUF v2/v3 file; tensor offsets come back absolute. */
export async function readGgufHeader(file: string): Promise<GgufHeader> {
  const fh = await openFile(file)
  try {
    const c = new Cursor(fh, file, (await fh.stat()).size)
    if (c.size < 4) throw invalid(file, `not a GGUF file: ${c.size} bytes`)
    await c.need(4, 'the magic')
    const magic = c.u32()
    if (magic !== GGUF_MAGIC) {
      const hex = [0, 8, 16, 24].map((s) => ((magic >>> s) & 0xff).toString(16).padStart(2, '0')).join(' ')
      throw invalid(file, `not a GGUF file: it starts with ${hex}, not "GGUF"`)
    }
    await c.need(4, 'the version')
    const version = c.u32()
    if (version === 1) throw invalid(file, 'GGUF version 1 is not supported (versions 2 and 3 are); convert it again with a current llama.cpp')
    if (version !== 2 && version !== 3) {
      // A big-endian v2/v3 file's version reads as 0x02000000 or 0x03000000 here.
      const bigEndian = version === 0x02000000 || version === 0x03000000
      throw invalid(file, bigEndian ? 'big-endian GGUF files are not supported' : `unsupported GGUF version ${version}`)
    }
    const tensorCount = await readCount(c, 'tensor count', MAX_VALUES)
    const kvCount = await readCount(c, 'metadata count', MAX_VALUES)
    // Each key/value takes at least 13 bytes and each tensor info at least 24.
    if (kvCount * 13 + tensorCount * 24 > c.size - c.pos) {
      throw invalid(file, `truncated: ${kvCount} metadata entries and ${tensorCount} tensors cannot fit in ${c.size} bytes`)
    }
    c.spend(tensorCount + kvCount, 'the counts')

    const metadata = new Map<string, GgufValue>()
    for (let i = 0; i < kvCount; i++) {
      const key = await readString(c, `metadata key ${i}`, true)
      if (metadata.has(key)) throw invalid(file, `metadata key '${key}' appears twice`)
      await c.need(4, `the value type of '${key}'`)
      metadata.set(key, await readValue(c, c.u32(), key, 0))
    }

    const tensors: GgufTensorInfo[] = []
    const names = new Set<string>()
    for (let i = 0; i < tensorCount; i++) {
      const info = await readTensorInfo(c, i)
      if (names.has(info.name)) throw invalid(file, `tensor '${info.name}' appears twice`)
      names.add(info.name)
      tensors.push(info)
    }

    const alignmentValue = metadata.get('general.alignment')
    const alignment = alignmentValue === undefined ? GGUF_DEFAULT_ALIGNMENT : integer(alignmentValue)
    if (alignment === undefined || alignment <= 0 || alignment > 1 << 20 || (alignment & (alignment - 1)) !== 0) {
      throw invalid(file, `general.alignment ${String(alignmentValue)} is not a power of two`)
    }
    const dataStart = Math.ceil(c.pos / alignment) * alignment
    for (const t of tensors) {
      if (t.offset % alignment !== 0) throw invalid(file, `tensor '${t.name}' offset ${t.offset} is not a multiple of the alignment ${alignment}`)
      t.offset += dataStart
      if (t.offset + t.byteLength > c.size) {
        throw invalid(file, `truncated: tensor '${t.name}' ends at byte ${t.offset + t.byteLength}, past the end of the file (${c.size} bytes)`)
      }
    }
    return { version, metadata, tensors, alignment }
  } finally {
    await fh.close()
  }
}

/**
 * The bytes of one tensor, read from its absolute offset. A FileHandle lets the importer read
 * every tensor through one open file; `label` names the file in errors then.
 */
export async function readTensor(file: string | FileHandle, info: GgufTensorInfo, label?: string): Promise<Uint8Array> {
  const name = label ?? (typeof file === 'string' ? file : 'GGUF file')
  const fh = typeof file === 'string' ? await openFile(file) : file
  try {
    const out = new Uint8Array(info.byteLength)
    let done = 0
    while (done < out.length) {
      const length = Math.min(READ_BYTES, out.length - done)
      const { bytesRead } = await fh.read(out, done, length, info.offset + done)
      if (bytesRead === 0) {
        throw invalid(name, `truncated: tensor '${info.name}' ends at byte ${info.offset + info.byteLength}, past the end of the file`)
      }
      done += bytesRead
    }
    return out
  } finally {
    if (typeof file === 'string') await fh.close()
  }
}
