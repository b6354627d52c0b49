// fp16 and q4f16 files of a bench model, made from its fp32 and q4 files the way fp16 exports are
// written: weights, activations, logits and the KV cache in float16, while the rope tables and
// RMSNorm's variance are computed in float32 (transformers does both in float32 under fp16) and
// cast to float16 where they meet the rest of the graph.

import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import onnxProto from 'onnx-proto'

const { onnx } = onnxProto
type INodeProto = onnxProto.onnx.INodeProto
type ITensorProto = onnxProto.onnx.ITensorProto
const { FLOAT, FLOAT16, INT64, BOOL } = onnx.TensorProto.DataType
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL

/** float16's largest finite value: -FLT_MAX mask fills become -65504, as fp16 exports write them. */
const HALF_MAX = 65504

/** The element type each op's first output has, where it is not its first input's. */
const OUTPUT_TYPE: Record<string, number> = {
  Shape: INT64, Size: INT64, Less: BOOL, LessOrEqual: BOOL, Greater: BOOL, GreaterOrEqual: BOOL, Equal: BOOL, And: BOOL, Or: BOOL, Not: BOOL,
}

/**
 * Writes `<dir>/<to>` (and `<to>_data`) as the float16 version of `<dir>/<from>`. Returns how
 * many initializers became float16 and how many float32 nodes were kept (the rope and variance islands).
 */
export function writeFp16Model(dir: string, from: string, to: string): { converted: number; float32Nodes: number } {
  const model = onnx.ModelProto.decode(readFileSync(path.join(dir, from)))
  const graph = model.graph!
  const nodes = graph.node ?? []
  if (nodes.some((n) => n.opType === 'Constant')) throw new Error(`${from}: Constant nodes are not converted (the bench models have none)`)
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name!, t]))
  const type = new Map<string, number>()
  for (const v of graph.input ?? []) type.set(v.name!, v.type?.tensorType?.elemType ?? 0)
  for (const t of inits.values()) type.set(t.name!, t.dataType ?? 0)

  const island = new Set<string>() // float32 tensors of the rope tables and the variances
  const out: INodeProto[] = []
  let casts = 0
  const toHalf = (tensor: string): string => {
    const name = `${tensor}_fp16_${casts++}`
    out.push({ opType: 'Cast', domain: '', name, input: [tensor], output: [name], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT16 }] })
    return name
  }
  let float32Nodes = 0
  for (const node of nodes) {
    const inputs = node.input ?? []
    const inTypes = inputs.map((i) => type.get(i) ?? 0)
    const cast = node.opType === 'Cast' ? Number(node.attribute?.find((a) => a.name === 'to')?.i ?? 0) : null
    if (node.opType === 'Pow') {
      // RMSNorm's x², kept in float32 so the sum of squares cannot overflow float16.
      const x = `${inputs[0]}_fp32_${casts++}`
      out.push({ opType: 'Cast', domain: '', name: x, input: [inputs[0]!], output: [x], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] })
      type.set(x, FLOAT)
      island.add(x)
      node.input = [x, ...inputs.slice(1)]
    }
    const ins = node.input ?? []
    const touchesIsland = ins.some((i) => island.has(i))
    const floatIns = ins.filter((i) => type.get(i) === FLOAT || type.get(i) === FLOAT16)
    const inIsland = (touchesIsland && floatIns.every((i) => island.has(i) || inits.has(i))) || (cast === FLOAT && inTypes[0] !== FLOAT)
    let outType = cast ?? OUTPUT_TYPE[node.opType ?? ''] ?? (node.opType === 'Where' ? type.get(ins[1]!) : type.get(ins[0]!)) ?? 0
    if (cast === FLOAT && touchesIsland && !inIsland) throw new Error(`${node.name}: a cast to float32 mixes island and graph inputs`)
    if (inIsland && node.opType === 'Cast' && touchesIsland) {
      // Where transformers casts cos, sin to the model's dtype.
      node.attribute = [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT16 }]
      outType = FLOAT16
    } else if (inIsland) {
      float32Nodes++
      for (const o of node.output ?? []) if (outType === FLOAT) island.add(o)
    } else {
      node.input = ins.map((i) => (island.has(i) ? toHalf(i) : i))
      if (cast === FLOAT) node.attribute = [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT16 }]
      if (outType === FLOAT) outType = FLOAT16
    }
    for (const o of node.output ?? []) type.set(o, outType)
    out.push(node)
  }
  graph.node = out
  graph.valueInfo = []
  for (const v of [...(graph.input ?? []), ...(graph.output ?? [])]) {
    if (v.type?.tensorType?.elemType === FLOAT) v.type.tensorType.elemType = FLOAT16
  }

  // Float initializers read outside the islands become float16; the islands' own stay float32.
  const readers = new Map<string, INodeProto[]>()
  for (const n of out) for (const i of n.input ?? []) if (inits.has(i)) readers.set(i, [...(readers.get(i) ?? []), n])
  const float32Readers = (n: INodeProto): boolean => (n.output ?? []).some((o) => island.has(o)) || (n.opType === 'Cast' && (n.input ?? []).some((i) => island.has(i)))
  const dataFile = `${path.basename(to)}_data`
  const fd = openSync(path.join(dir, path.dirname(to), dataFile), 'w')
  let offset = 0
  let converted = 0
  try {
    for (const t of inits.values()) {
      const users = readers.get(t.name!) ?? []
      if (t.dataType === FLOAT && users.some(float32Readers) && !users.every(float32Readers)) {
        throw new Error(`${t.name}: read both inside and outside a float32 island`)
      }
      let bytes = tensorBytes(t, path.join(dir, path.dirname(from)))
      if (t.dataType === FLOAT && !users.every(float32Readers)) {
        bytes = halfBytes(bytes)
        t.dataType = FLOAT16
        converted++
      }
      delete t.floatData
      delete t.int64Data
      if (t.dataLocation !== EXTERNAL && bytes.length < 1024) {
        t.rawData = bytes
        continue
      }
      writeAll(fd, bytes, offset)
      t.rawData = new Uint8Array(0)
      t.dataLocation = EXTERNAL
      t.externalData = [
        { key: 'location', value: dataFile },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.length) },
      ]
      offset += bytes.length
    }
  } finally {
    closeSync(fd)
  }
  writeFileSync(path.join(dir, to), onnx.ModelProto.encode(model).finish())
  return { converted, float32Nodes }
}

/** A tensor's stored bytes, inline or from its external data file in `dir`. */
function tensorBytes(t: ITensorProto, dir: string): Uint8Array {
  if (t.dataLocation !== EXTERNAL) {
    if (t.rawData && t.rawData.length > 0) return t.rawData
    if (t.floatData?.length) return new Uint8Array(Float32Array.from(t.floatData).buffer)
    if (t.int64Data?.length) return new Uint8Array(BigInt64Array.from(t.int64Data.map((v) => BigInt(String(v)))).buffer)
    return new Uint8Array(0)
  }
  const entry = (key: string): string => t.externalData?.find((e) => e.key === key)?.value ?? ''
  const length = Number(entry('length'))
  const out = Buffer.alloc(length)
  const fd = openSync(path.join(dir, entry('location')), 'r')
  try {
    for (let at = 0; at < length; ) {
      const n = readSync(fd, out, at, length - at, Number(entry('offset') || 0) + at)
      if (n === 0) throw new Error(`${t.name}: external data ends early`)
      at += n
    }
  } finally {
    closeSync(fd)
  }
  return out
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at, position + at)
}

/** float32 bytes to float16 bytes, rounded to nearest even, clamped to ±65504 (no infinities). */
export function halfBytes(bytes: Uint8Array): Uint8Array {
  const copy = new Float32Array(bytes.length / 4)
  new Uint8Array(copy.buffer).set(bytes)
  const out = new Uint16Array(copy.length)
  for (let i = 0; i < copy.length; i++) out[i] = toHalfBits(Math.max(-HALF_MAX, Math.min(HALF_MAX, copy[i]!)))
  return new Uint8Array(out.buffer)
}

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** IEEE half bits of a float32 within float16's range, round to nearest even. */
export function toHalfBits(x: number): number {
  f32[0] = x
  const u = u32[0]!
  const sign = (u >>> 16) & 0x8000
  const exp = (u >>> 23) & 0xff
  if (exp === 0xff) return sign | 0x7c00 | ((u & 0x7fffff) !== 0 ? 0x200 : 0)
  const e = exp - 112 // rebias 127 -> 15
  if (e <= 0) {
    if (e < -10) return sign
    const mant = (u & 0x7fffff) | 0x800000
    const shift = 14 - e
    const half = mant >>> shift
    const rem = mant & ((1 << shift) - 1)
    const mid = 1 << (shift - 1)
    return sign | (rem > mid || (rem === mid && (half & 1) === 1) ? half + 1 : half)
  }
  // Normal: keep 10 mantissa bits; a carry out of the mantissa correctly bumps the exponent.
  const bits = (e << 10) | ((u >>> 13) & 0x3ff)
  const rem = u & 0x1fff
  return sign | (rem > 0x1000 || (rem === 0x1000 && (bits & 1) === 1) ? bits + 1 : bits)
}
