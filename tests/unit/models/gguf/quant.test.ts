// Dequantization of ggml blocks: hand-built blocks with known values, ggml's own output (golden),
// the bench writer's Q4_0 and F16, and refusals by name.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { GgmlType } from '../../../../src-main/models/gguf/gguf-types.ts'
import { ggmlTypeTraits } from '../../../../src-main/models/gguf/format.ts'
import { scaleMinK4 } from '../../../../src-main/models/gguf/k-quants.ts'
import { canDequantize, dequantize } from '../../../../src-main/models/gguf/quant.ts'
import { quantizeQ4_0, toHalf } from '../../../../tools/bench/gguf.ts'
import { Rng } from '../../../../tools/model-builder/random.ts'
import { GOLDEN, goldenBlock } from './golden/golden.ts'

/** A block's bytes: u16 halves and u8 runs, little-endian, in order. */
function block(...parts: (number | number[])[]): Uint8Array {
  const out: number[] = []
  for (const p of parts) {
    if (typeof p === 'number') out.push(p & 0xff, p >> 8)
    else out.push(...p)
  }
  return Uint8Array.from(out)
}

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i))

describe('dequantize', () => {
  it('decodes a Q4_0 block: element j in the low nibble of qs[j], j + 16 in the high, (q - 8)·d', () => {
    const b = block(toHalf(0.5), range(16, (j) => j | ((15 - j) << 4)))
    const want = [...range(16, (j) => (j - 8) * 0.5), ...range(16, (j) => (7 - j) * 0.5)]
    assert.deepEqual(Array.from(dequantize(GgmlType.Q4_0, b, 32)), want)
  })

  it('decodes Q4_1 as q·d + m, Q8_0 as int8·d', () => {
    const q41 = block(toHalf(0.25), toHalf(-1), range(16, (j) => j | (j << 4)))
    assert.deepEqual(Array.from(dequantize(GgmlType.Q4_1, q41, 32)), [...range(16, (j) => j * 0.25 - 1), ...range(16, (j) => j * 0.25 - 1)])
    const q80 = block(toHalf(2), range(32, (j) => (j * 8 - 128) & 0xff))
    assert.deepEqual(Array.from(dequantize(GgmlType.Q8_0, q80, 32)), range(32, (j) => (j * 8 - 128) * 2))
  })

  it("takes Q5_0's fifth bit of element j from bit j of qh, and Q5_1's likewise", () => {
    const qh = [0x55, 0x55, 0xaa, 0xaa] // bits 0, 2, .., 14 and 17, 19, .., 31
    const bit = (j: number) => (j < 16 ? (j % 2 === 0 ? 16 : 0) : j % 2 === 1 ? 16 : 0)
    const q50 = block(toHalf(1), qh, range(16, (j) => j | (j << 4)))
    assert.deepEqual(Array.from(dequantize(GgmlType.Q5_0, q50, 32)), range(32, (j) => (j % 16) + bit(j) - 16))
    const q51 = block(toHalf(0.5), toHalf(3), qh, range(16, (j) => j | (j << 4)))
    assert.deepEqual(Array.from(dequantize(GgmlType.Q5_1, q51, 32)), range(32, (j) => ((j % 16) + bit(j)) * 0.5 + 3))
  })

  it("unpacks Q4_K's 6-bit scales and mins, the last four sub-blocks' top bits from bytes 0..7", () => {
    const sc = [1, 17, 33, 63, 5, 40, 62, 31]
    const m = [0, 63, 20, 1, 48, 7, 33, 16]
    // The packing ggml's quantizer writes (the inverse of get_scale_min_k4).
    const packed = [
      ...range(4, (j) => (sc[j]! & 63) | ((sc[j + 4]! >> 4) << 6)),
      ...range(4, (j) => (m[j]! & 63) | ((m[j + 4]! >> 4) << 6)),
      ...range(4, (j) => (sc[j + 4]! & 15) | ((m[j + 4]! & 15) << 4)),
    ]
    const scales = Uint8Array.from(packed)
    assert.deepEqual(
      Array.from({ length: 8 }, (_, j) => scaleMinK4(scales, 0, j)),
      Array.from({ length: 8 }, (_, j) => [sc[j], m[j]]),
    )
    // A super-block with d = 1, dmin = 0.5 and code l % 16 everywhere: x = sc·q - m/2.
    const q4k = block(toHalf(1), toHalf(0.5), packed, range(128, (l) => (l % 16) | ((l % 16) << 4)))
    const want = range(256, (i) => sc[i >> 5]! * ((i % 32) % 16) - m[i >> 5]! / 2)
    assert.deepEqual(Array.from(dequantize(GgmlType.Q4_K, q4k, 256)), want)
  })

  for (const g of GOLDEN.blocks) {
    it(`gives ggml's own values for ${g.name}, bit for bit`, () => {
      const { type, count, bytes, values } = goldenBlock(g.name)
      const got = dequantize(type, bytes, count)
      const diff = range(count, (i) => i).filter((i) => !Object.is(got[i], values[i]))
      assert.deepEqual(diff, [], `first mismatch at ${diff[0]}: ${got[diff[0]!]} vs ${values[diff[0]!]}`)
    })
  }

  it('agrees with ggml on the block size and byte size of every type id', () => {
    for (let t = 0; t < 64; t++) {
      const ours = ggmlTypeTraits(t)
      const theirs = GOLDEN.traits[String(t)]
      assert.deepEqual(ours && { ...ours, name: ours.name.toLowerCase() }, theirs && { ...theirs, name: theirs.name.toLowerCase() }, `type ${t}`)
    }
  })

  it("reads the bench writer's Q4_0 within half a step and its F16 to half precision", () => {
    const src = new Rng(4).weights(256, 1)
    const q = dequantize(GgmlType.Q4_0, quantizeQ4_0(src), 256)
    for (let b = 0; b < 8; b++) {
      const block = src.subarray(b * 32, b * 32 + 32)
      const step = Math.max(...block.map(Math.abs)) / 8
      for (let j = 0; j < 32; j++) assert.ok(Math.abs(q[b * 32 + j]! - block[j]!) <= step * 1.01, `element ${b * 32 + j}`)
    }
    const halves = Uint16Array.from([1, -2, 0.5, 65504, 2 ** -24], toHalf)
    assert.deepEqual(Array.from(dequantize(GgmlType.F16, new Uint8Array(halves.buffer), 5)), [1, -2, 0.5, 65504, 2 ** -24])
    const f32 = Float32Array.of(1.5, -3, 1e-30)
    assert.deepEqual(dequantize(GgmlType.F32, new Uint8Array(f32.buffer), 3), f32)
  })

  it('refuses the types it does not convert by name, and sizes that do not add up', () => {
    for (const [type, name] of [[GgmlType.Q2_K, 'Q2_K'], [GgmlType.Q3_K, 'Q3_K'], [20, 'IQ4_NL'], [16, 'IQ2_XXS']] as const) {
      assert.equal(canDequantize(type), false)
      const message = new RegExp(`^GGUF ${name} tensors cannot be converted \\(supported: F32, F16, BF16, Q8_0, Q4_0, .*Q6_K\\)$`)
      assert.throws(() => dequantize(type, new Uint8Array(1024), 256), { code: 'MODEL_UNSUPPORTED', message })
    }
    assert.throws(() => dequantize(99, new Uint8Array(1024), 256), { code: 'MODEL_UNSUPPORTED', message: /^GGUF tensor type 99 is unknown/ })
    assert.throws(() => dequantize(GgmlType.Q4_0, new Uint8Array(18), 33), { code: 'IMPORT_INVALID', message: /Q4_0 holds whole blocks of 32 elements; 33/ })
    assert.throws(() => dequantize(GgmlType.Q6_K, new Uint8Array(209), 256), { code: 'IMPORT_INVALID', message: /256 Q6_K elements need 210 bytes; 209 given/ })
  })
})
