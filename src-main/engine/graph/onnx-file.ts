// A ModelProto opened for rewriting by its top-level protobuf fields: only the graph's small
// fields are decoded, and the initializers are carried over as raw bytes, so a model with half a
// gigabyte of inline weights is rewritten without parsing its tensors.

import type onnxProto from 'onnx-proto'
import protobuf from 'protobufjs/minimal.js'
import { onnx, RewriteUnsupported, type IGraphProto, type ITensorProto } from './graph-edit.ts'

// ModelProto.graph and .opset_import, GraphProto.initializer and .sparse_initializer (onnx.proto).
const MODEL_GRAPH = 7
const MODEL_OPSET_IMPORT = 8
const GRAPH_INITIALIZER = 5
const GRAPH_SPARSE_INITIALIZER = 15
// TensorProto.name (onnx.proto).
const TENSOR_NAME = 8
const WIRE_BYTES = 2
/** Initializers up to this many bytes are constants a pass may read; larger ones are weights. */
const SMALL_INITIALIZER = 4096

interface Field {
  field: number
  start: number
  /** Where a length-delimited field's payload starts. */
  dataStart: number
  end: number
}

export class OnnxFile {
  /** The graph without its initializers: the passes edit it, `encode` writes it back. */
  readonly graph: IGraphProto
  /** The default domain's opset version, 0 when the model imports none. */
  readonly opset: number
  private top: Field[]
  private graphBytes: Uint8Array
  private graphFields: Field[]
  /** Each large initializer's field, by name; made by the first `initializer` call. */
  private largeByName: Map<string, Field> | null = null

  constructor(private model: Uint8Array) {
    this.top = fieldsOf(model)
    const graphField = this.top.filter((f) => f.field === MODEL_GRAPH)
    if (graphField.length !== 1) throw new RewriteUnsupported('the file has no single graph')
    this.graphBytes = model.subarray(graphField[0]!.dataStart, graphField[0]!.end)
    this.graphFields = fieldsOf(this.graphBytes)
    this.graph = onnx.GraphProto.decode(concat(this.graphFields.filter((f) => !isWeights(f)).map((f) => this.bytesOf(f))))
    const opset = this.opsetImports().find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx')
    this.opset = opset ? Number(opset.version) : 0
  }

  /** The initializers small enough to be constants (Slice bounds, scalars), decoded. */
  smallInitializers(): ITensorProto[] {
    return this.graphFields
      .filter((f) => f.field === GRAPH_INITIALIZER && f.end - f.dataStart <= SMALL_INITIALIZER)
      .map((f) => onnx.TensorProto.decode(this.graphBytes.subarray(f.dataStart, f.end)))
  }

  /**
   * A large initializer by name, decoded (its raw data a view of the file's bytes); null when
   * there is none. Only the names are read to find it, never the other tensors' data.
   */
  initializer(name: string): ITensorProto | null {
    if (this.largeByName === null) {
      this.largeByName = new Map()
      const text = new TextDecoder()
      for (const f of this.graphFields) {
        if (f.field !== GRAPH_INITIALIZER || f.end - f.dataStart <= SMALL_INITIALIZER) continue
        const tensor = this.graphBytes.subarray(f.dataStart, f.end)
        const nameField = fieldsOf(tensor).find((t) => t.field === TENSOR_NAME)
        if (nameField) this.largeByName.set(text.decode(tensor.subarray(nameField.dataStart, nameField.end)), f)
      }
    }
    const f = this.largeByName.get(name)
    return f ? onnx.TensorProto.decode(this.graphBytes.subarray(f.dataStart, f.end)) : null
  }

  /**
   * The model with the graph as the passes left it, the original initializers after it. With
   * `contribOps` (the graph now has com.microsoft nodes) the model imports that domain if it did not.
   */
  encode(opts: { contribOps: boolean }): Uint8Array {
    const encoded = onnx.GraphProto.encode(this.graph).finish()
    const weights = this.graphFields.filter(isWeights).map((f) => this.bytesOf(f))
    const graphLength = encoded.length + weights.reduce((n, w) => n + w.length, 0)
    const head = protobuf.Writer.create().uint32((MODEL_GRAPH << 3) | WIRE_BYTES).uint32(graphLength).finish()
    const rest = this.top.filter((f) => f.field !== MODEL_GRAPH).map((f) => this.model.subarray(f.start, f.end))
    if (opts.contribOps && !this.opsetImports().some((o) => o.domain === 'com.microsoft')) {
      const entry = onnx.OperatorSetIdProto.encode({ domain: 'com.microsoft', version: 1 }).finish()
      rest.push(protobuf.Writer.create().uint32((MODEL_OPSET_IMPORT << 3) | WIRE_BYTES).bytes(entry).finish())
    }
    return concat([...rest, head, encoded, ...weights])
  }

  private opsetImports(): onnxProto.onnx.IOperatorSetIdProto[] {
    return this.top
      .filter((f) => f.field === MODEL_OPSET_IMPORT)
      .map((f) => onnx.OperatorSetIdProto.decode(this.model.subarray(f.dataStart, f.end)))
  }

  private bytesOf(f: Field): Uint8Array {
    return this.graphBytes.subarray(f.start, f.end)
  }
}

function isWeights(f: Field): boolean {
  return f.field === GRAPH_INITIALIZER || f.field === GRAPH_SPARSE_INITIALIZER
}

/** The top-level fields of a protobuf message, as byte ranges. */
function fieldsOf(bytes: Uint8Array): Field[] {
  const reader = protobuf.Reader.create(bytes)
  const fields: Field[] = []
  while (reader.pos < reader.len) {
    const start = reader.pos
    const tag = reader.uint32()
    const wire = tag & 7
    let dataStart = reader.pos
    if (wire === WIRE_BYTES) {
      const length = reader.uint32()
      dataStart = reader.pos
      reader.skip(length)
    } else {
      reader.skipType(wire)
    }
    fields.push({ field: tag >>> 3, start, dataStart, end: reader.pos })
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
