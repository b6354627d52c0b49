// A ModelProto opened for rewriting by its top-level protobuf fields: only the graph's small
// fields are decoded, and the initializers are carried over untouched, so a model with half a
// gigabyte of inline weights is rewritten without parsing its tensors.
//
// Opened from the file itself (FileSource), the weights are not even read: the fields are found by
// reading their headers and skipping their payloads, and `encode` writes each inline weight as an
// external-data reference to where its bytes already are in that same file (ONNX external data:
// location, offset, length). onnxruntime then reads them from the file as it reads any external
// data, and neither the file's bytes nor a rewritten copy of them is ever held in JS memory: for a
// 540 MB fp32 export, loading peaked at ~1.9 GiB with the whole file read and written back, and
// at ~0.8 GiB with the weights referenced (PERFORMANCE.md, "Memory").

import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import type onnxProto from 'onnx-proto'
import protobuf from 'protobufjs/minimal.js'
import { onnx, RewriteUnsupported, type IGraphProto, type ITensorProto } from './graph-edit.ts'

// ModelProto.graph and .opset_import, GraphProto.initializer and .sparse_initializer (onnx.proto).
const MODEL_GRAPH = 7
const MODEL_OPSET_IMPORT = 8
const GRAPH_INITIALIZER = 5
const GRAPH_SPARSE_INITIALIZER = 15
// TensorProto.name, .raw_data, .external_data, .data_location (onnx.proto).
const TENSOR_NAME = 8
const TENSOR_RAW_DATA = 9
const TENSOR_EXTERNAL_DATA = 13
const TENSOR_DATA_LOCATION = 14
const EXTERNAL = 1
const WIRE_VARINT = 0
const WIRE_FIXED64 = 1
const WIRE_BYTES = 2
const WIRE_FIXED32 = 5
/** Initializers up to this many bytes are constants a pass may read; larger ones are weights. */
const SMALL_INITIALIZER = 4096

/** Bytes read by range: a file on disk, or bytes in memory. */
export interface ByteSource {
  readonly length: number
  /** Bytes [start, end), which must lie within the source. */
  read(start: number, end: number): Uint8Array
}

/** A file read by positioned reads, never whole. Close it when done. */
export class FileSource implements ByteSource {
  readonly length: number
  private fd: number | null

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r')
    this.length = fstatSync(this.fd).size
  }

  read(start: number, end: number): Uint8Array {
    if (this.fd === null) throw new Error(`${this.path} is closed`)
    const out = Buffer.allocUnsafe(end - start)
    for (let at = 0; at < out.length; ) {
      const n = readSync(this.fd, out, at, out.length - at, start + at)
      if (n === 0) throw new Error(`${this.path} ended at ${start + at} bytes, ${end} expected`)
      at += n
    }
    return out
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd)
    this.fd = null
  }
}

class MemorySource implements ByteSource {
  constructor(private bytes: Uint8Array) {}
  get length(): number {
    return this.bytes.length
  }
  read(start: number, end: number): Uint8Array {
    return this.bytes.subarray(start, end)
  }
}

/** A field's byte range in the source: `start` its tag, `dataStart` a length-delimited payload's first byte. */
interface Field {
  field: number
  start: number
  dataStart: number
  end: number
}

export interface OnnxFileOptions {
  /**
   * The source's file name, relative to the folder onnxruntime is given for external data: inline
   * weights are then written by `encode` as references into that file instead of copied.
   */
  location?: string
}

export class OnnxFile {
  /** The graph without its initializers: the passes edit it, `encode` writes it back. */
  readonly graph: IGraphProto
  /** The default domain's opset version, 0 when the model imports none. */
  readonly opset: number
  private source: ByteSource
  private top: Field[]
  private graphFields: Field[]
  /** Each large initializer's field, by name; made by the first `initializer` call. */
  private largeByName: Map<string, Field> | null = null

  constructor(
    model: Uint8Array | ByteSource,
    private opts: OnnxFileOptions = {},
  ) {
    this.source = model instanceof Uint8Array ? new MemorySource(model) : model
    this.top = fieldsOf(this.source, 0, this.source.length)
    const graphField = this.top.filter((f) => f.field === MODEL_GRAPH)
    if (graphField.length !== 1) throw new RewriteUnsupported('the file has no single graph')
    this.graphFields = fieldsOf(this.source, graphField[0]!.dataStart, graphField[0]!.end)
    this.graph = onnx.GraphProto.decode(concat(this.graphFields.filter((f) => !isWeights(f)).map((f) => this.bytesOf(f))))
    const opset = this.opsetImports().find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx')
    this.opset = opset ? Number(opset.version) : 0
  }

  /** The initializers small enough to be constants (Slice bounds, scalars), decoded. */
  smallInitializers(): ITensorProto[] {
    return this.graphFields
      .filter((f) => f.field === GRAPH_INITIALIZER && f.end - f.dataStart <= SMALL_INITIALIZER)
      .map((f) => onnx.TensorProto.decode(this.source.read(f.dataStart, f.end)))
  }

  /**
   * A large initializer by name, decoded (its data read from the source); null when there is none.
   * Only the names are read to find it, never the other tensors' data.
   */
  initializer(name: string): ITensorProto | null {
    if (this.largeByName === null) {
      this.largeByName = new Map()
      const text = new TextDecoder()
      for (const f of this.graphFields) {
        if (f.field !== GRAPH_INITIALIZER || f.end - f.dataStart <= SMALL_INITIALIZER) continue
        const nameField = fieldsOf(this.source, f.dataStart, f.end).find((t) => t.field === TENSOR_NAME)
        if (nameField) this.largeByName.set(text.decode(this.source.read(nameField.dataStart, nameField.end)), f)
      }
    }
    const f = this.largeByName.get(name)
    return f ? onnx.TensorProto.decode(this.source.read(f.dataStart, f.end)) : null
  }

  /**
   * The model with the graph as the passes left it, the original initializers after it (inline
   * weights as references into the file when `location` was given). With `contribOps` (the graph
   * now has com.microsoft nodes) the model imports that domain if it did not.
   */
  encode(opts: { contribOps: boolean }): Uint8Array {
    const encoded = onnx.GraphProto.encode(this.graph).finish()
    const weights = this.graphFields.filter(isWeights).map((f) => this.weightBytes(f))
    const graphLength = encoded.length + weights.reduce((n, w) => n + w.length, 0)
    const head = protobuf.Writer.create().uint32((MODEL_GRAPH << 3) | WIRE_BYTES).uint32(graphLength).finish()
    const rest = this.top.filter((f) => f.field !== MODEL_GRAPH).map((f) => this.bytesOf(f))
    if (opts.contribOps && !this.opsetImports().some((o) => o.domain === 'com.microsoft')) {
      const entry = onnx.OperatorSetIdProto.encode({ domain: 'com.microsoft', version: 1 }).finish()
      rest.push(protobuf.Writer.create().uint32((MODEL_OPSET_IMPORT << 3) | WIRE_BYTES).bytes(entry).finish())
    }
    return concat([...rest, head, encoded, ...weights])
  }

  /**
   * An initializer field as it is, or, when the file's location is known and its data is inline
   * raw bytes, the same tensor with that data as an external reference to where it lies.
   */
  private weightBytes(f: Field): Uint8Array {
    if (this.opts.location === undefined || f.field !== GRAPH_INITIALIZER || f.end - f.dataStart <= SMALL_INITIALIZER) return this.bytesOf(f)
    const parts = fieldsOf(this.source, f.dataStart, f.end)
    const raw = parts.filter((p) => p.field === TENSOR_RAW_DATA)
    if (raw.length !== 1 || parts.some((p) => p.field === TENSOR_EXTERNAL_DATA)) return this.bytesOf(f)
    // Kept: every field but the data and its location (DEFAULT, written out by some writers).
    const kept = concat(parts.filter((p) => p.field !== TENSOR_RAW_DATA && p.field !== TENSOR_DATA_LOCATION).map((p) => this.source.read(p.start, p.end)))
    const tail = protobuf.Writer.create()
    for (const [key, value] of [
      ['location', this.opts.location],
      ['offset', String(raw[0]!.dataStart)],
      ['length', String(raw[0]!.end - raw[0]!.dataStart)],
    ] as const) {
      tail.uint32((TENSOR_EXTERNAL_DATA << 3) | WIRE_BYTES).bytes(onnx.StringStringEntryProto.encode({ key, value }).finish())
    }
    tail.uint32((TENSOR_DATA_LOCATION << 3) | WIRE_VARINT).int32(EXTERNAL)
    const tensor = concat([kept, tail.finish()])
    return concat([protobuf.Writer.create().uint32((GRAPH_INITIALIZER << 3) | WIRE_BYTES).uint32(tensor.length).finish(), tensor])
  }

  private opsetImports(): onnxProto.onnx.IOperatorSetIdProto[] {
    return this.top.filter((f) => f.field === MODEL_OPSET_IMPORT).map((f) => onnx.OperatorSetIdProto.decode(this.source.read(f.dataStart, f.end)))
  }

  private bytesOf(f: Field): Uint8Array {
    return this.source.read(f.start, f.end)
  }
}

function isWeights(f: Field): boolean {
  return f.field === GRAPH_INITIALIZER || f.field === GRAPH_SPARSE_INITIALIZER
}

/** How much of the source is read at a time while walking field headers: a little after a skipped payload, more while reading on. */
const MIN_WINDOW = 4096
const MAX_WINDOW = 1 << 20

/**
 * The fields of the protobuf message in [start, end) of the source, as byte ranges. Headers are
 * read through a window; a payload is skipped without being read.
 */
function fieldsOf(source: ByteSource, start: number, end: number): Field[] {
  if (start < 0 || end > source.length || start > end) throw new Error(`a field runs past the end of the file (${end} > ${source.length})`)
  let windowStart = start
  let window: Uint8Array = new Uint8Array(0)
  let size = MIN_WINDOW
  let pos = start
  const byte = (): number => {
    if (pos >= end) throw new Error(`a field header runs past its message's end (byte ${pos})`)
    if (pos >= windowStart + window.length || pos < windowStart) {
      // Reading on from the window's end (many small fields): read more at a time; after a skip, little.
      size = pos === windowStart + window.length ? Math.min(MAX_WINDOW, size * 2) : MIN_WINDOW
      windowStart = pos
      window = source.read(pos, Math.min(end, pos + size))
    }
    return window[pos++ - windowStart]!
  }
  const varint = (): number => {
    let value = 0
    for (let shift = 0; shift < 64; shift += 7) {
      const b = byte()
      value += (b & 0x7f) * 2 ** shift
      if (b < 0x80) return value
    }
    throw new Error(`a varint longer than 10 bytes at byte ${pos}`)
  }
  const fields: Field[] = []
  while (pos < end) {
    const fieldStart = pos
    const tag = varint()
    const wire = tag % 8
    let dataStart = pos
    if (wire === WIRE_VARINT) varint()
    else if (wire === WIRE_FIXED64) pos += 8
    else if (wire === WIRE_FIXED32) pos += 4
    else if (wire === WIRE_BYTES) {
      const length = varint()
      dataStart = pos
      pos += length
    } else throw new Error(`wire type ${wire} at byte ${fieldStart}`)
    if (pos > end) throw new Error(`a field runs past its message's end (${pos} > ${end})`)
    fields.push({ field: Math.floor(tag / 8), start: fieldStart, dataStart, end: pos })
  }
  return fields
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
