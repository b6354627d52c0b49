import assert from 'node:assert/strict'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { GGUF_VERSION } from '../../../src-main/models/gguf/format.ts'
import { readGgufHeader, readTensor } from '../../../src-main/models/gguf/reader.ts'
import {
  GgmlType,
  layoutGguf,
  quantizeQ4_0,
  toHalf,
  writeGguf,
  type GgufMetadata,
  type GgufTensor,
} from '../../../tools/bench/gguf.ts'

async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hearth-gguf-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function f32Tensor(name: string, ne: number[], fill: (i: number) => number): GgufTensor {
  const n = ne.reduce((a, b) => a * b, 1)
  const data = Float32Array.from({ length: n }, (_, i) => fill(i))
  return { name, ne, type: GgmlType.F32, byteLength: n * 4, data: () => new Uint8Array(data.buffer) }
}

const METADATA: GgufMetadata = [
  ['general.architecture', { kind: 'string', value: 'llama' }],
  ['general.alignment', { kind: 'uint32', value: 32 }],
  ['llama.rope.freq_base', { kind: 'float32', value: 100000 }],
  ['llama.block_count', { kind: 'uint32', value: 30 }],
  ['some.flag', { kind: 'bool', value: true }],
  ['some.big', { kind: 'uint64', value: 2n ** 40n }],
  ['tokenizer.ggml.tokens', { kind: 'array', of: 'string', values: ['<s>', 'é', '日本'] }],
  ['tokenizer.ggml.token_type', { kind: 'array', of: 'int32', values: [3, 1, -1] }],
]

describe('layoutGguf', () => {
  it('writes a header that parses back to the same metadata and tensor table', async () => {
    const tensors = [f32Tensor('a', [3], (i) => i), f32Tensor('b.weight', [5, 2], (i) => -i)]
    const layout = layoutGguf(METADATA, tensors)
    const read = await inTempDir(async (dir) => {
      const file = path.join(dir, 'm.gguf')
      await writeGguf(file, METADATA, tensors)
      return readGgufHeader(file)
    })
    assert.equal(read.version, GGUF_VERSION)
    assert.equal(read.metadata.get('general.architecture'), 'llama')
    assert.equal(read.metadata.get('llama.block_count'), 30)
    assert.equal(read.metadata.get('llama.rope.freq_base'), 100000)
    assert.equal(read.metadata.get('some.flag'), true)
    assert.equal(read.metadata.get('some.big'), 2n ** 40n)
    assert.deepEqual(read.metadata.get('tokenizer.ggml.tokens'), ['<s>', 'é', '日本'])
    assert.deepEqual(read.metadata.get('tokenizer.ggml.token_type'), [3, 1, -1])
    assert.deepEqual(
      read.tensors.map((t) => [t.name, t.ne, t.type]),
      [
        ['a', [3], GgmlType.F32],
        ['b.weight', [5, 2], GgmlType.F32],
      ],
    )
    assert.deepEqual(
      read.tensors.map((t) => t.offset),
      layout.offsets.map((o) => layout.dataStart + o),
    )
  })

  it('places every tensor at an aligned offset after the previous one', () => {
    const tensors = [f32Tensor('x', [3], () => 1), f32Tensor('y', [9], () => 2), f32Tensor('z', [8], () => 3)]
    const layout = layoutGguf(METADATA, tensors)
    assert.deepEqual(layout.offsets, [0, 32, 96])
    assert.equal(layout.dataStart % 32, 0)
    assert.ok(layout.dataStart >= layout.header.length && layout.dataStart - layout.header.length < 32)
    assert.equal(layout.fileSize, layout.dataStart + 96 + 32)
  })

  it('honours a larger general.alignment', () => {
    const meta: GgufMetadata = [['general.alignment', { kind: 'uint32', value: 64 }]]
    const layout = layoutGguf(meta, [f32Tensor('x', [3], () => 1), f32Tensor('y', [3], () => 1)])
    assert.deepEqual(layout.offsets, [0, 64])
    assert.equal(layout.dataStart % 64, 0)
  })

  it('rejects a tensor whose byte length does not match its shape, and duplicate names', () => {
    const bad = { ...f32Tensor('x', [4], () => 0), byteLength: 12 }
    assert.throws(() => layoutGguf(METADATA, [bad]), /do not match/)
    assert.throws(() => layoutGguf(METADATA, [f32Tensor('x', [1], () => 0), f32Tensor('x', [1], () => 0)]), /duplicate/)
  })
})

describe('writeGguf', () => {
  it("puts each tensor's bytes at data start plus its offset", async () => {
    await inTempDir(async (dir) => {
      const file = path.join(dir, 'm.gguf')
      const tensors = [f32Tensor('x', [3], (i) => i + 0.5), f32Tensor('y', [2, 3], (i) => 10 * i)]
      const layout = await writeGguf(file, METADATA, tensors)
      assert.equal((await stat(file)).size, layout.fileSize)
      const read = await readGgufHeader(file)
      const values = async (k: number) => Array.from(new Float32Array((await readTensor(file, read.tensors[k]!)).buffer))
      assert.deepEqual(await values(0), [0.5, 1.5, 2.5])
      assert.deepEqual(await values(1), [0, 10, 20, 30, 40, 50])
    })
  })
})

describe('toHalf', () => {
  it('encodes exact values, rounds to nearest even, and saturates to infinity', () => {
    assert.equal(toHalf(1), 0x3c00)
    assert.equal(toHalf(-2), 0xc000)
    assert.equal(toHalf(0.5), 0x3800)
    assert.equal(toHalf(65504), 0x7bff)
    assert.equal(toHalf(1e6), 0x7c00)
    assert.equal(toHalf(2 ** -24), 0x0001)
    // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties go to the even mantissa.
    assert.equal(toHalf(1 + 2 ** -11), 0x3c00)
    assert.equal(toHalf(1 + 3 * 2 ** -11), 0x3c02)
  })
})

describe('quantizeQ4_0', () => {
  it('dequantizes within half a step, the largest magnitude exactly, as ggml does', () => {
    const src = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * (i < 32 ? 1 : 3))
    const q = quantizeQ4_0(src)
    assert.equal(q.length, 2 * 18)
    // Block 0's largest magnitude is sin(11) < 0: its code is 0, so -8 * d = sin(11).
    assert.equal(q[2 + 11]! & 0xf, 0)
    const view = new DataView(q.buffer)
    for (let b = 0; b < 2; b++) {
      const half = view.getUint16(b * 18, true)
      const d = (half & 0x8000 ? -1 : 1) * 2 ** (((half >> 10) & 0x1f) - 15) * (1 + (half & 0x3ff) / 1024)
      for (let j = 0; j < 32; j++) {
        const byte = q[b * 18 + 2 + (j % 16)]!
        const code = j < 16 ? byte & 0xf : byte >> 4
        // Codes span -8..7 steps: a value near +8 steps on the far side of the max clamps to 7.
        const bound = code === 15 ? Math.abs(d) : Math.abs(d) / 2
        assert.ok(Math.abs((code - 8) * d - src[b * 32 + j]!) <= bound + 1e-3, `block ${b} element ${j}`)
      }
    }
  })

  it('refuses a length that is not a multiple of 32', () => {
    assert.throws(() => quantizeQ4_0(new Float32Array(40)), /multiple of 32/)
  })
})
