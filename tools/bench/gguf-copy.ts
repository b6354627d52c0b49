// Copies an F32 GGUF through the bench's writer with its projections quantized to Q4_0, as
// llama.cpp's quantize writes a mostly-Q4_0 file: the same metadata and tensor order, norms,
// embedding and output left F32, and a projection whose rows are not whole 32-value blocks too.

import { readGgufHeader, readTensor } from '../../src-main/models/gguf/reader.ts'
import type { GgufValue as ReadValue } from '../../src-main/models/gguf/gguf-types.ts'
import { GgmlType, quantizeQ4_0, writeGguf, type GgufMetadata, type GgufTensor, type GgufValue } from './gguf.ts'

/** Keys whose numbers are floats in GGUF even when their value is whole (a rope base of 10000). */
const FLOAT_KEY = /(epsilon|freq_base|freq_scale|factor|scale|scores)$/

/** Writes `outFile`; returns how many tensors became Q4_0. */
export async function copyGgufAsQ4_0(srcFile: string, outFile: string): Promise<{ q4_0: number; f32: number }> {
  const header = await readGgufHeader(srcFile)
  const metadata: GgufMetadata = [...header.metadata].map(([key, value]) => [key, typed(key, value)])
  let q4_0 = 0
  const tensors: GgufTensor[] = []
  for (const info of header.tensors) {
    if (info.type !== GgmlType.F32) throw new Error(`${srcFile}: ${info.name} is not F32`)
    const bytes = await readTensor(srcFile, info)
    const quantize = info.name.startsWith('blk.') && info.ne.length === 2 && info.ne[0]! % 32 === 0
    const data = quantize ? quantizeQ4_0(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)) : bytes
    if (quantize) q4_0++
    tensors.push({ name: info.name, ne: info.ne, type: quantize ? GgmlType.Q4_0 : GgmlType.F32, byteLength: data.byteLength, data: () => data })
  }
  await writeGguf(outFile, metadata, tensors)
  return { q4_0, f32: tensors.length - q4_0 }
}

/** The writer's typed value for one the reader returned (which keeps no types). */
function typed(key: string, value: ReadValue): GgufValue {
  if (typeof value === 'string') return { kind: 'string', value }
  if (typeof value === 'boolean') return { kind: 'bool', value }
  if (typeof value === 'bigint') return { kind: 'uint64', value }
  if (typeof value === 'number') {
    if (FLOAT_KEY.test(key) || !Number.isInteger(value)) return { kind: 'float32', value }
    return { kind: value < 0 ? 'int32' : 'uint32', value }
  }
  if (value.every((v) => typeof v === 'string')) return { kind: 'array', of: 'string', values: value }
  if (value.every((v) => typeof v === 'number')) return { kind: 'array', of: FLOAT_KEY.test(key) ? 'float32' : 'int32', values: value }
  throw new Error(`metadata ${key}: an array the bench's writer cannot write`)
}
