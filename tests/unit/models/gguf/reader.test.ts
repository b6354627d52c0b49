// The GGUF reader: the real stories260K file, round trips through the bench's writer, and every
// kind of broken or hostile file refused with a clear IMPORT_INVALID (and nothing else thrown).

import assert from 'node:assert/strict'
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AppError } from '../../../../src-shared/errors.ts'
import { GgmlType } from '../../../../src-main/models/gguf/gguf-types.ts'
import { readGgufHeader, readTensor } from '../../../../src-main/models/gguf/reader.ts'
import { dequantize } from '../../../../src-main/models/gguf/quant.ts'
import { layoutGguf, quantizeQ4_0, toHalf, writeGguf, type GgufMetadata, type GgufTensor } from '../../../../tools/bench/gguf.ts'
import { Rng } from '../../../../tools/model-builder/random.ts'
import { STORIES_GGUF, storiesMissing } from '../../../../tools/stories-fixture.ts'

let dir = ''
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hearth-gguf-reader-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const METADATA: GgufMetadata = [
  ['general.architecture', { kind: 'string', value: 'llama' }],
  ['llama.block_count', { kind: 'uint32', value: 2 }],
  ['llama.rope.freq_base', { kind: 'float32', value: 10000 }],
  ['some.flag', { kind: 'bool', value: false }],
  ['some.big', { kind: 'uint64', value: 2n ** 50n + 1n }],
  ['tokenizer.ggml.tokens', { kind: 'array', of: 'string', values: ['<unk>', 'é', '日本', ''] }],
  ['tokenizer.ggml.scores', { kind: 'array', of: 'float32', values: [0, -1.5, -2.25, 0.5] }],
]

function f32(name: string, ne: number[], data: Float32Array): GgufTensor {
  return { name, ne, type: GgmlType.F32, byteLength: data.byteLength, data: () => new Uint8Array(data.buffer) }
}

const weights = new Rng(16).weights(64 * 3, 1)
const halves = Uint16Array.from(weights.subarray(0, 96), toHalf)
const TENSORS: GgufTensor[] = [
  f32('norm.weight', [5], Float32Array.of(1, 2, 3, 4, 5)),
  { name: 'w16', ne: [32, 3], type: GgmlType.F16, byteLength: 192, data: () => new Uint8Array(halves.buffer) },
  { name: 'wq', ne: [64, 3], type: GgmlType.Q4_0, byteLength: 6 * 18, data: () => quantizeQ4_0(weights) },
]

let counter = 0
/** Writes a valid file, lets `corrupt` change its bytes, and returns the path. */
async function gguf(corrupt: (bytes: Uint8Array, header: Uint8Array) => Uint8Array = (b) => b, meta = METADATA, tensors = TENSORS): Promise<string> {
  const file = path.join(dir, `m${counter++}.gguf`)
  const { header } = await writeGguf(file, meta, tensors)
  await writeFile(file, corrupt(new Uint8Array(await readFile(file)), header))
  return file
}

/** Byte position just after the (first) UTF-8 string `s` in `bytes`. */
function afterString(bytes: Uint8Array, s: string): number {
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(s)
  assert.ok(at >= 0, `${s} is in the file`)
  return at + Buffer.byteLength(s)
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)

async function rejects(file: string, message: RegExp, code = 'IMPORT_INVALID'): Promise<void> {
  await assert.rejects(readGgufHeader(file), (err: unknown) => {
    assert.ok(err instanceof AppError, `an AppError, got ${String(err)}`)
    assert.equal(err.code, code)
    assert.match(err.message, message)
    assert.ok(err.message.startsWith(file), 'the message names the file')
    return true
  })
}

describe('readGgufHeader', () => {
  it('reads the stories260K fixture: llama metadata, vocabulary and 48 F32 tensors filling the file', { skip: storiesMissing() ?? false }, async () => {
    const h = await readGgufHeader(STORIES_GGUF)
    assert.equal(h.version, 3)
    assert.equal(h.alignment, 32)
    assert.equal(h.metadata.get('general.architecture'), 'llama')
    assert.equal(h.metadata.get('llama.embedding_length'), 64)
    assert.equal(h.metadata.get('llama.block_count'), 5)
    assert.equal(h.metadata.get('llama.attention.head_count'), 8)
    assert.equal(h.metadata.get('llama.attention.head_count_kv'), 4)
    assert.equal(h.metadata.get('llama.feed_forward_length'), 172)
    const tokens = h.metadata.get('tokenizer.ggml.tokens')
    assert.ok(Array.isArray(tokens) && tokens.length === 512)
    assert.deepEqual(tokens.slice(0, 3), ['<unk>', '<s>', '</s>'])
    assert.equal(h.tensors.length, 48)
    assert.ok(h.tensors.every((t) => t.type === GgmlType.F32 && t.offset % 32 === 0))
    const byName = new Map(h.tensors.map((t) => [t.name, t]))
    assert.deepEqual(byName.get('token_embd.weight')?.ne, [64, 512])
    assert.deepEqual(byName.get('blk.4.ffn_down.weight')?.ne, [172, 64])
    const end = Math.max(...h.tensors.map((t) => t.offset + t.byteLength))
    assert.equal(end, (await readFile(STORIES_GGUF)).length)
    // The README: output.weight is a copy of token_embd.weight.
    assert.deepEqual(await readTensor(STORIES_GGUF, byName.get('output.weight')!), await readTensor(STORIES_GGUF, byName.get('token_embd.weight')!))
  })

  it("reads back every value and tensor the bench's writer wrote", async () => {
    const file = await gguf()
    const h = await readGgufHeader(file)
    assert.deepEqual([...h.metadata.keys()], METADATA.map(([k]) => k))
    assert.equal(h.metadata.get('llama.block_count'), 2)
    assert.equal(h.metadata.get('some.flag'), false)
    assert.equal(h.metadata.get('some.big'), 2n ** 50n + 1n)
    assert.deepEqual(h.metadata.get('tokenizer.ggml.tokens'), ['<unk>', 'é', '日本', ''])
    assert.deepEqual(h.metadata.get('tokenizer.ggml.scores'), [0, -1.5, -2.25, 0.5])
    assert.deepEqual(
      h.tensors.map((t) => [t.name, t.ne, t.type, t.byteLength]),
      TENSORS.map((t) => [t.name, t.ne, t.type, t.byteLength]),
    )
    const fh = await open(file, 'r')
    try {
      for (let i = 0; i < TENSORS.length; i++) assert.deepEqual(await readTensor(fh, h.tensors[i]!), TENSORS[i]!.data())
      const w16 = dequantize(GgmlType.F16, await readTensor(fh, h.tensors[1]!), 96)
      for (let i = 0; i < 96; i++) assert.ok(Math.abs(w16[i]! - weights[i]!) <= Math.abs(weights[i]!) * 2 ** -11 + 2 ** -24)
    } finally {
      await fh.close()
    }
  })

  it('places the data section at the header rounded up to general.alignment', async () => {
    const meta: GgufMetadata = [['general.alignment', { kind: 'uint32', value: 256 }], ...METADATA]
    const file = await gguf(undefined, meta)
    const h = await readGgufHeader(file)
    const layout = layoutGguf(meta, TENSORS)
    assert.equal(h.alignment, 256)
    assert.deepEqual(
      h.tensors.map((t) => t.offset),
      layout.offsets.map((o) => layout.dataStart + o),
    )
    assert.equal(layout.dataStart % 256, 0)
  })

  it('refuses a file that is not GGUF, or a version other than 2 and 3, by name', async () => {
    assert.ok(await readGgufHeader(await gguf((b) => (view(b).setUint32(4, 2, true), b))), 'version 2 reads')
    await rejects(await gguf((b) => (b[0] = 0x7f, b)), /not a GGUF file: it starts with 7f 47 55 46/)
    await rejects(await gguf((b) => (view(b).setUint32(4, 1, true), b)), /GGUF version 1 is not supported/)
    await rejects(await gguf((b) => (view(b).setUint32(4, 4, true), b)), /unsupported GGUF version 4/)
    await rejects(await gguf((b) => (view(b).setUint32(4, 3, false), b)), /big-endian GGUF files are not supported/)
    await rejects(await gguf(() => new Uint8Array(0)), /not a GGUF file: 0 bytes/)
  })

  it('refuses a file cut inside the header or inside any tensor', async () => {
    const whole = await readFile(await gguf())
    const { header } = layoutGguf(METADATA, TENSORS)
    await rejects(await gguf((b) => b.subarray(0, header.length - 20)), /truncated: .* runs past the end of the file/)
    await rejects(await gguf((b) => b.subarray(0, 40)), /truncated/)
    await rejects(await gguf((b) => b.subarray(0, whole.length - 1)), /truncated: tensor 'wq' ends at byte \d+, past the end of the file/)
  })

  it('refuses an unknown ggml type, naming the tensor and the id', async () => {
    // The last tensor info ends with u32 type, u64 offset.
    await rejects(await gguf((b, header) => (view(b).setUint32(header.length - 12, 99, true), b)), /tensor 'wq' has unknown ggml type 99/)
  })

  it('refuses a row that is not whole blocks of its type', async () => {
    await rejects(await gguf((b, header) => (view(b).setUint32(header.length - 12, GgmlType.Q4_1, true), b)), /truncated: tensor 'wq' ends at byte/)
    const odd: GgufTensor[] = [{ ...TENSORS[0]!, ne: [5] }]
    await rejects(await gguf((b, header) => (view(b).setUint32(header.length - 12, GgmlType.Q8_0, true), b), METADATA, odd), /ne\[0\] = 5 is not a multiple of Q8_0's block of 32/)
  })

  it('refuses absurd counts and lengths before allocating for them', async () => {
    await rejects(await gguf((b) => (view(b).setBigUint64(8, 2n ** 60n, true), b)), /absurd tensor count: past 2\^53/)
    await rejects(await gguf((b) => (view(b).setBigUint64(16, 2n ** 40n, true), b)), /absurd metadata count/)
    await rejects(await gguf((b) => (view(b).setBigUint64(16, 2n ** 20n, true), b)), /truncated: 1048576 metadata entries and 3 tensors cannot fit/)
    // The first key's u64 length sits right after the two counts.
    await rejects(await gguf((b) => (view(b).setBigUint64(24, 2n ** 62n, true), b)), /absurd length of metadata key 0/)
    // tokenizer.ggml.tokens: key, u32 ARRAY, u32 item type, u64 count.
    const count = (b: Uint8Array) => afterString(b, 'tokenizer.ggml.tokens') + 8
    await rejects(await gguf((b) => (view(b).setBigUint64(count(b), 2n ** 23n, true), b)), /the array 'tokenizer.ggml.tokens' claims 8388608 elements/)
    await rejects(await gguf((b) => (view(b).setBigUint64(count(b), 2n ** 33n, true), b)), /absurd length of the array/)
    const ne0 = (b: Uint8Array) => afterString(b, 'wq') + 4
    await rejects(await gguf((b) => (view(b).setBigUint64(ne0(b), 2n ** 52n, true), b)), /truncated: tensor 'wq' \[4503599627370496, 3\] Q4_0 does not fit/)
  })

  it('refuses keys and tensor names that are not UTF-8, and duplicates', async () => {
    await rejects(await gguf((b) => (b[afterString(b, 'some.flag') - 1] = 0xff, b)), /metadata key 3 at byte \d+ is not valid UTF-8/)
    await rejects(await gguf((b) => (b[afterString(b, 'w16') - 1] = 0xc3, b)), /the name of tensor 1 at byte \d+ is not valid UTF-8/)
    const pair: GgufMetadata = [['k.a', { kind: 'uint32', value: 1 }], ['k.b', { kind: 'uint32', value: 2 }]]
    await rejects(await gguf((b) => (b[afterString(b, 'k.b') - 1] = 0x61, b), pair), /metadata key 'k.a' appears twice/)
    const twice: GgufTensor[] = [TENSORS[0]!, { ...TENSORS[0]!, name: 'norm.weighu' }]
    await rejects(await gguf((b) => (b[afterString(b, 'norm.weighu') - 1] = 0x74, b), METADATA, twice), /tensor 'norm.weight' appears twice/)
  })

  it('refuses a bad alignment and a value type it does not know', async () => {
    const meta: GgufMetadata = [['general.alignment', { kind: 'uint32', value: 64 }], ...METADATA]
    await rejects(await gguf((b) => (view(b).setUint32(afterString(b, 'general.alignment') + 4, 48, true), b), meta), /general.alignment 48 is not a power of two/)
    await rejects(await gguf((b) => (view(b).setUint32(afterString(b, 'some.flag'), 13, true), b)), /metadata 'some.flag' has unknown value type 13/)
  })

  it('says NOT_FOUND for a missing file', async () => {
    await rejects(path.join(dir, 'nope.gguf'), /cannot open \(ENOENT\)/, 'NOT_FOUND')
  })

  it('only ever reads or refuses with IMPORT_INVALID, whatever bytes are cut or changed (seeded)', async () => {
    const whole = await readFile(await gguf())
    const rng = new Rng(1616)
    const file = path.join(dir, 'fuzz.gguf')
    for (let i = 0; i < 150; i++) {
      const b = new Uint8Array(whole)
      const flips = 1 + Math.floor(rng.next() * 4)
      // Most changes land in the header, where the parsing is.
      for (let f = 0; f < flips; f++) b[Math.floor(rng.next() * 300)] = Math.floor(rng.next() * 256)
      const cut = rng.next() < 0.3 ? Math.floor(rng.next() * b.length) : b.length
      await writeFile(file, b.subarray(0, cut))
      await readGgufHeader(file).catch((err: unknown) => {
        assert.ok(err instanceof AppError && err.code === 'IMPORT_INVALID', `case ${i}: ${String(err)}`)
      })
    }
  })
})

describe('readTensor', () => {
  it("refuses a tensor whose bytes are gone since the header was read, naming it", async () => {
    const file = await gguf()
    const h = await readGgufHeader(file)
    await writeFile(file, (await readFile(file)).subarray(0, h.tensors[2]!.offset + 10))
    await assert.rejects(readTensor(file, h.tensors[2]!), /truncated: tensor 'wq' ends at byte/)
  })
})
