// The GGUF reader on any file: a file the bench's writer made reads back as written, and the same
// file truncated or with bytes and counts overwritten reads as a header that fits the file or is
// refused with IMPORT_INVALID naming it, quickly, and never makes more values than the file has bytes.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { AppError } from '../../../src-shared/errors.ts'
import { readGgufHeader, readTensor } from '../../../src-main/models/gguf/reader.ts'
import type { GgufHeader, GgufValue as ReadValue } from '../../../src-main/models/gguf/gguf-types.ts'
import { GgmlType, tensorBytes, writeGguf, type GgufMetadata, type GgufTensor, type GgufValue, type WritableType } from '../../../tools/bench/gguf.ts'
import { runs } from './settings.ts'

let dir = ''
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hearth-property-gguf-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

// Grapheme strings are valid UTF-8 as the format asks (a lone surrogate would be written as U+FFFD).
const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 })
const value: fc.Arbitrary<GgufValue> = fc.oneof(
  fc.record({ kind: fc.constant('uint32' as const), value: fc.nat({ max: 2 ** 32 - 1 }) }),
  fc.record({ kind: fc.constant('int32' as const), value: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
  fc.record({ kind: fc.constant('float32' as const), value: fc.float({ noNaN: true }) }),
  fc.record({ kind: fc.constant('uint64' as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  fc.record({ kind: fc.constant('bool' as const), value: fc.boolean() }),
  fc.record({ kind: fc.constant('string' as const), value: fc.string({ unit: 'grapheme', maxLength: 12 }) }),
  fc.record({ kind: fc.constant('array' as const), of: fc.constant('int32' as const), values: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 6 }) }),
  fc.record({ kind: fc.constant('array' as const), of: fc.constant('float32' as const), values: fc.array(fc.float({ noNaN: true }), { maxLength: 6 }) }),
  fc.record({ kind: fc.constant('array' as const), of: fc.constant('string' as const), values: fc.array(fc.string({ unit: 'grapheme', maxLength: 6 }), { maxLength: 6 }) }),
)

const tensor = fc
  .tuple(fc.constantFrom<WritableType>(GgmlType.F32, GgmlType.F16, GgmlType.Q4_0), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.nat({ max: 255 }))
  .map(([type, blocks, rows, fill]) => {
    const ne = [type === GgmlType.Q4_0 ? 32 * blocks : 8 * blocks, rows]
    const byteLength = tensorBytes(type, ne[0]! * ne[1]!)
    return { ne, type, byteLength, fill }
  })

interface Model {
  metadata: GgufMetadata
  tensors: GgufTensor[]
}

const model: fc.Arbitrary<Model> = fc
  .record({
    metadata: fc.uniqueArray(fc.tuple(name, value), { selector: ([key]) => key, maxLength: 6 }),
    alignment: fc.option(fc.constantFrom(8, 32, 64), { nil: undefined }),
    tensors: fc.uniqueArray(fc.tuple(name, tensor), { selector: ([n]) => n, maxLength: 3 }),
  })
  .map(({ metadata, alignment, tensors }) => ({
    metadata: [
      ...(alignment ? [['general.alignment', { kind: 'uint32', value: alignment }] as [string, GgufValue]] : []),
      ...metadata.filter(([key]) => key !== 'general.alignment'),
    ],
    tensors: tensors.map(([n, t]) => ({ name: n, ne: t.ne, type: t.type, byteLength: t.byteLength, data: () => new Uint8Array(t.byteLength).fill(t.fill) })),
  }))

/** A value as the reader gives it back: numbers, bigints for u64, arrays of values. */
function asRead(v: GgufValue): ReadValue {
  if (v.kind === 'array') return Array.from(v.values as ArrayLike<number | string>)
  return v.value
}

/** Elements of every metadata array, nested ones included. */
function values(v: ReadValue): number {
  if (!Array.isArray(v)) return 1
  let n = v.length
  for (const x of v) n += values(x)
  return n
}

/** The header, or the AppError it was refused with; any other failure fails the property. */
async function header(file: string): Promise<GgufHeader | AppError> {
  try {
    return await readGgufHeader(file)
  } catch (err) {
    if (err instanceof AppError) return err
    throw err
  }
}

let count = 0
const nextFile = () => path.join(dir, `m${count++ % 8}.gguf`)

describe('readGgufHeader, on any file', () => {
  it('reads a written file back: its metadata, tensor table and tensor bytes', async () => {
    await fc.assert(
      fc.asyncProperty(model, async ({ metadata, tensors }) => {
        const file = nextFile()
        const layout = await writeGguf(file, metadata, tensors)
        const h = await readGgufHeader(file)
        assert.deepEqual([...h.metadata], metadata.map(([key, v]) => [key, asRead(v)]))
        assert.deepEqual(
          h.tensors.map(({ name: n, ne, type, offset, byteLength }) => ({ n, ne, type, offset, byteLength })),
          tensors.map((t, i) => ({ n: t.name, ne: t.ne, type: t.type, offset: layout.dataStart + layout.offsets[i]!, byteLength: t.byteLength })),
        )
        for (const [i, t] of h.tensors.entries()) assert.deepEqual(await readTensor(file, t), tensors[i]!.data())
      }),
      runs(150),
    )
  })

  it('refuses a truncated or overwritten file with IMPORT_INVALID, or reads a header that fits it', async () => {
    const hostile64 = fc.constantFrom(2n ** 64n - 1n, 2n ** 63n, 2n ** 53n, 2n ** 32n, 2n ** 24n, 2n ** 24n + 1n, 2n ** 31n, 1000n, 0n)
    const hostile32 = fc.constantFrom(0xffffffff, 0x80000000, 9, 8, 12, 13, 30, 99, 4, 0)
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), byte: fc.nat({ max: 255 }) }),
      fc.record({ kind: fc.constant('u64' as const), at: fc.nat(), value: hostile64 }),
      fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: hostile32 }),
    )
    await fc.assert(
      fc.asyncProperty(model, fc.array(mutation, { minLength: 1, maxLength: 3 }), async ({ metadata, tensors }, mutations) => {
        const file = nextFile()
        await writeGguf(file, metadata, tensors)
        let bytes = new Uint8Array(await readFile(file))
        for (const m of mutations) {
          const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
          // Counts and lengths sit in the header: aim there more often than at the tensor data.
          const at = m.at % Math.max(1, Math.min(bytes.length, m.at % 2 ? 256 : bytes.length))
          if (m.kind === 'truncate') bytes = bytes.subarray(0, at)
          else if (m.kind === 'byte' && at < bytes.length) bytes[at] = m.byte
          else if (m.kind === 'u64' && at + 8 <= bytes.length) view.setBigUint64(at, m.value, true)
          else if (m.kind === 'u32' && at + 4 <= bytes.length) view.setUint32(at, m.value, true)
        }
        await writeFile(file, bytes)
        const h = await header(file)
        if (h instanceof AppError) {
          assert.ok(h.code === 'IMPORT_INVALID', `${h.code}: ${h.message}`)
          assert.ok(h.message.startsWith(file), h.message)
          return
        }
        const made = [...h.metadata.values()].reduce((n: number, v) => n + values(v), 0) + h.tensors.length
        assert.ok(made <= bytes.length, `${made} values from ${bytes.length} bytes`)
        for (const t of h.tensors) assert.ok(t.offset + t.byteLength <= bytes.length && Number.isSafeInteger(t.byteLength))
      }),
      { ...runs(400), timeout: 5000 },
    )
  })
})
