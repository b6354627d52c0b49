// A small ONNX graph writer over onnx-proto: nodes, constants, and weights streamed to external data.
// Used by the decoder writer (decoder-graph.ts) and by tests that hand-make graphs.

import { closeSync, openSync, writeSync } from 'node:fs'
import path from 'node:path'
import onnxProto from 'onnx-proto'

const { onnx } = onnxProto
type INodeProto = onnxProto.onnx.INodeProto
type ITensorProto = onnxProto.onnx.ITensorProto
type IValueInfoProto = onnxProto.onnx.IValueInfoProto
type IAttributeProto = onnxProto.onnx.IAttributeProto

export const DT = onnx.TensorProto.DataType
export type ElemType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool'
const ELEM: Record<ElemType, number> = {
  float32: DT.FLOAT,
  float16: DT.FLOAT16,
  int64: DT.INT64,
  int32: DT.INT32,
  uint8: DT.UINT8,
  bool: DT.BOOL,
}

export type AttrValue = number | number[] | string | { float: number } | { tensor: ITensorProto }
/** A dimension: a fixed size or a symbolic name such as 'sequence_length'. */
export type Dim = number | string

/** External weights land in one file; offsets are aligned so large tensors can be memory-mapped. */
class ExternalData {
  private fd: number | null
  private offset = 0
  constructor(
    readonly fileName: string,
    dir: string,
  ) {
    this.fd = openSync(path.join(dir, fileName), 'w')
  }

  append(bytes: Uint8Array): { offset: number; length: number } {
    const align = bytes.byteLength >= 1 << 20 ? 4096 : 64
    const padding = (align - (this.offset % align)) % align
    if (padding > 0) this.write(new Uint8Array(padding))
    this.offset += padding
    const at = this.offset
    this.write(bytes)
    this.offset += bytes.byteLength
    return { offset: at, length: bytes.byteLength }
  }

  /** All of `bytes`: one write(2) moves at most ~2 GiB, less than a large model's embedding table can be. */
  private write(bytes: Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.fileName} is already closed`)
    for (let done = 0; done < bytes.byteLength; ) done += writeSync(this.fd, bytes, done, bytes.byteLength - done)
  }

  /** Idempotent: a writer that failed part-way closes the file too. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd)
    this.fd = null
  }
}

export class GraphBuilder {
  private nodes: INodeProto[] = []
  private initializers: ITensorProto[] = []
  private inputs: IValueInfoProto[] = []
  private outputs: IValueInfoProto[] = []
  private counter = 0
  private external: ExternalData
  /** The initializers `int64` and `float` made: small constants, not weights. */
  private constants = new Set<string>()

  /** Weights of at least `externalThreshold` bytes go to `<dir>/<dataFile>`. */
  constructor(
    dir: string,
    dataFile: string,
    private externalThreshold = 1024,
  ) {
    this.external = new ExternalData(dataFile, dir)
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims))
    return name
  }

  output(name: string, type: ElemType, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims))
  }

  /** One node; returns its output names (`outputs` of them, or the given names). */
  node(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: { outputs?: number | string[]; domain?: string } = {},
  ): string[] {
    const outs =
      Array.isArray(opts.outputs) ?
        opts.outputs
      : Array.from({ length: opts.outputs ?? 1 }, () => `${opType.toLowerCase()}_${this.counter++}`)
    this.nodes.push({
      opType,
      domain: opts.domain ?? '',
      name: `${opType}_${this.counter++}`,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([name, value]) => attribute(name, value)),
    })
    return outs
  }

  /** Single-output node. */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: { output?: string; domain?: string } = {},
  ): string {
    const [out] = this.node(opType, inputs, attrs, {
      domain: opts.domain,
      outputs: opts.output ? [opts.output] : 1,
    })
    return out as string
  }

  int64(values: number[], dims: number[] = [values.length]): string {
    return this.constant(this.tensor(`const_${this.counter++}`, 'int64', dims, new BigInt64Array(values.map(BigInt))))
  }

  float(values: number[], dims: number[] = [values.length]): string {
    return this.constant(this.tensor(`const_${this.counter++}`, 'float32', dims, new Float32Array(values)))
  }

  private constant(name: string): string {
    this.constants.add(name)
    return name
  }

  /** An initializer; large ones are written to the external data file. */
  tensor(
    name: string,
    type: ElemType,
    dims: number[],
    data: Float32Array | BigInt64Array | Uint8Array | Uint16Array | Int32Array,
  ): string {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    const t: ITensorProto = { name, dataType: ELEM[type], dims }
    if (bytes.byteLength >= this.externalThreshold) {
      const { offset, length } = this.external.append(bytes)
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL
      t.externalData = [
        { key: 'location', value: this.external.fileName },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ]
    } else {
      t.rawData = bytes.slice()
    }
    this.initializers.push(t)
    return name
  }

  /** The default domain's opset the model declares (17 unless set before `finish`). */
  opset = 17

  /** The model's producer_name (set before `finish`). */
  producer = 'hearth'

  /**
   * Write each constant as a Constant node right before each node that reads it, as torch.onnx
   * exports place them, instead of as an initializer (set before `finish`).
   */
  inlineConstants = false

  /** Closes the external data file without encoding the model (after a failure). */
  abort(): void {
    this.external.close()
  }

  /** Encodes the model (`opset` plus com.microsoft 1) and closes the external data file. */
  finish(name: string): Uint8Array {
    this.external.close()
    const { nodes, initializers } = this.inlineConstants ? this.inlined() : { nodes: this.nodes, initializers: this.initializers }
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: this.producer,
      opsetImport: [
        { domain: '', version: this.opset },
        { domain: 'com.microsoft', version: 1 },
      ],
      graph: {
        name,
        node: nodes,
        initializer: initializers,
        input: this.inputs,
        output: this.outputs,
      },
    })
    return onnx.ModelProto.encode(model).finish()
  }

  /** The nodes with a Constant node of its own before each read of a constant, and the initializers left. */
  private inlined(): { nodes: INodeProto[]; initializers: ITensorProto[] } {
    const constants = new Map(this.initializers.filter((t) => this.constants.has(t.name!) && t.rawData).map((t) => [t.name!, t]))
    const nodes: INodeProto[] = []
    for (const n of this.nodes) {
      const input = (n.input ?? []).map((name) => {
        const t = constants.get(name)
        if (!t) return name
        const out = `constant_${this.counter++}`
        const value = attribute('value', { tensor: { dataType: t.dataType, dims: t.dims, rawData: t.rawData } })
        nodes.push({ opType: 'Constant', domain: '', name: `Constant_${this.counter++}`, input: [], output: [out], attribute: [value] })
        return out
      })
      nodes.push({ ...n, input })
    }
    return { nodes, initializers: this.initializers.filter((t) => !constants.has(t.name!)) }
  }
}

function valueInfo(name: string, type: ElemType, dims: Dim[]): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  }
}

function attribute(name: string, value: AttrValue): IAttributeProto {
  const A = onnx.AttributeProto.AttributeType
  if (typeof value === 'number') return { name, type: A.INT, i: value }
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) }
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value }
  if ('float' in value) return { name, type: A.FLOAT, f: value.float }
  return { name, type: A.TENSOR, t: value.tensor }
}
