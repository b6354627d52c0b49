// The ONNX reader used at load (OnnxFile, under the graph rewrites) on any bytes: a model written
// with onnx-proto is written back unchanged, and bytes truncated or overwritten give a model or an
// Error, quickly, which the engine reports before loading the file as it is.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { onnx, type ITensorProto } from '../../../src-main/engine/graph/graph-edit.ts'
import { OnnxFile } from '../../../src-main/engine/graph/onnx-file.ts'
import { rewriteModel } from '../../../src-main/engine/graph/rewrite-model.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { runs } from './settings.ts'

const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 })

/** A float initializer: small ones are constants the passes read, over 4096 bytes weights they carry over. */
const initializer = fc.tuple(name, fc.constantFrom(1, 3, 16, 1100, 1500)).map(
  ([n, size]): ITensorProto => ({ name: n, dataType: onnx.TensorProto.DataType.FLOAT, dims: [size], rawData: new Uint8Array(size * 4).fill(size % 251) }),
)
const node = fc.record({
  opType: fc.constantFrom('Add', 'MatMul', 'Gather', 'Reshape', 'Custom'),
  name: fc.string({ maxLength: 4 }),
  input: fc.array(name, { maxLength: 3 }),
  output: fc.array(name, { minLength: 1, maxLength: 2 }),
  domain: fc.constantFrom('', 'com.microsoft'),
})
const model = fc
  .record({
    nodes: fc.array(node, { maxLength: 6 }),
    initializers: fc.uniqueArray(initializer, { selector: (t) => t.name, maxLength: 4 }),
    opset: fc.integer({ min: 1, max: 21 }),
    inputs: fc.array(name, { maxLength: 2 }),
    producer: fc.string({ maxLength: 6 }),
  })
  .map(({ nodes, initializers, opset, inputs, producer }) =>
    onnx.ModelProto.encode({
      irVersion: 8,
      producerName: producer,
      opsetImport: [{ domain: '', version: opset }],
      graph: { name: 'g', node: nodes, initializer: initializers, input: inputs.map((n) => ({ name: n })), output: [{ name: 'out' }] },
    }).finish(),
  )

/** Messages as plain data: bytes as arrays and int64s as strings, whichever buffer they were decoded from. */
const PLAIN = { bytes: Array, longs: String }

/** Bytes truncated, or with a byte or a varint-ish run overwritten. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), byte: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('varint' as const), at: fc.nat(), bytes: fc.constantFrom([0xff, 0xff, 0xff, 0xff, 0x0f], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], [0x0a], [0x3a, 0xff, 0xff, 0x03]) }),
)

function mutate(bytes: Uint8Array, mutations: { kind: string; at: number; byte?: number; bytes?: readonly number[] }[]): Uint8Array {
  let out = Uint8Array.from(bytes)
  for (const m of mutations) {
    // Half the time near the start, where the top-level and graph field headers are.
    const at = m.at % Math.max(1, m.at % 2 ? Math.min(64, out.length) : out.length)
    if (m.kind === 'truncate') out = out.subarray(0, at)
    else if (m.kind === 'byte' && at < out.length) out[at] = m.byte!
    else if (m.kind === 'varint') out.set(m.bytes!.slice(0, Math.max(0, out.length - at)), at)
  }
  return out
}

/** Reads everything OnnxFile offers; returns the Error it threw, if any. Anything but an Error fails. */
function readAll(bytes: Uint8Array): Error | null {
  try {
    const file = new OnnxFile(bytes)
    file.smallInitializers()
    for (const n of file.graph.node ?? []) for (const input of n.input ?? []) file.initializer(input)
    file.encode({ contribOps: true })
    return null
  } catch (err) {
    assert.ok(err instanceof Error, `threw ${String(err)}`)
    assert.ok(err.message.length > 0)
    return err
  }
}

describe('OnnxFile, on any bytes', () => {
  it('writes a model back as it read it, with its initializers found by name', () => {
    fc.assert(
      fc.property(model, (bytes) => {
        const original = onnx.ModelProto.decode(bytes)
        const file = new OnnxFile(bytes)
        assert.equal(file.opset, Number(original.opsetImport[0]?.version))
        const again = onnx.ModelProto.decode(file.encode({ contribOps: false }))
        assert.deepEqual(onnx.ModelProto.toObject(again, PLAIN), onnx.ModelProto.toObject(original, PLAIN))
        for (const t of original.graph?.initializer ?? []) {
          const small = (t.rawData?.length ?? 0) <= 4096
          const found = small ? file.smallInitializers().find((s) => s.name === t.name) : file.initializer(t.name ?? '')
          assert.ok(found, `initializer ${t.name}`)
          assert.deepEqual(onnx.TensorProto.toObject(onnx.TensorProto.create(found), PLAIN), onnx.TensorProto.toObject(onnx.TensorProto.create(t), PLAIN))
        }
      }),
      runs(200),
    )
  })

  it('answers truncated or overwritten bytes with a model or an Error', () => {
    fc.assert(
      fc.property(model, fc.array(mutation, { minLength: 1, maxLength: 3 }), (bytes, mutations) => {
        readAll(mutate(bytes, mutations))
      }),
      runs(400),
    )
  })
})

describe('rewriteModel, on a damaged export', () => {
  let dir = ''
  let exported = new Uint8Array(0)
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hearth-property-onnx-'))
    await buildModel(dir, { shape: 'tiny', layers: 1, seed: 3 })
    exported = new Uint8Array(await readFile(path.join(dir, 'onnx', 'model.onnx')))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('rewrites the bytes or throws an Error, which the engine notes before loading the file unrewritten', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 2 }), (mutations) => {
        try {
          rewriteModel(mutate(exported, mutations), 'split', { lastLogits: true, fuse: true })
        } catch (err) {
          assert.ok(err instanceof Error, `threw ${String(err)}`)
        }
      }),
      runs(150),
    )
  })
})
