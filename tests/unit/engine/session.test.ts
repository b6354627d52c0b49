// Cache equivalence on every model variant the builder makes: prefill then decode == full sequence.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { buildModel, type BuildOptions } from '../../../tools/model-builder/build-model.ts'
import { openSession } from '../../../src-main/engine/open-session.ts'
import type { ModelSession } from '../../../src-main/engine/session.ts'
import { readSignature } from '../../../src-main/engine/signature.ts'
import type { KvCache } from '../../../src-main/engine/kv-cache.ts'

const TOKENS = [1, 77, 300, 5, 42, 42, 9, 511, 260, 3, 128, 64, 7, 99]
const PREFILL = 5
const VOCAB = 512

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-session-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

async function open(name: string, opts: Partial<BuildOptions>, file = 'model.onnx'): Promise<ModelSession> {
  const dir = path.join(root, name)
  await buildModel(dir, { vocab: VOCAB, contextLength: 64, ...opts })
  return openSession(path.join(dir, 'onnx', file), {
    provider: 'cpu',
    threads: 1,
    contextLength: 64,
    kvHeads: 2,
    headDim: 16,
    vocab: VOCAB,
  })
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length)
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!))
  return max
}

/** Logits of every position from one pass over the whole sequence: [tokens, vocab]. */
async function fullLogits(session: ModelSession, tokens: number[]): Promise<Float32Array> {
  return (await session.forward(session.emptyCache(), tokens, { logits: 'all' })).slice()
}

function row(all: Float32Array, i: number): Float32Array {
  return all.subarray(i * VOCAB, (i + 1) * VOCAB)
}

/** Largest difference between the full pass and prefill-k-then-decode-one-at-a-time. */
async function cachedVsFull(session: ModelSession): Promise<number> {
  const full = await fullLogits(session, TOKENS)
  const kv = session.emptyCache()
  let max = maxAbsDiff(await session.forward(kv, TOKENS.slice(0, PREFILL), { logits: 'last' }), row(full, PREFILL - 1))
  for (let i = PREFILL; i < TOKENS.length; i++) {
    max = Math.max(max, maxAbsDiff(await session.forward(kv, [TOKENS[i]!], { logits: 'last' }), row(full, i)))
  }
  assert.equal(kv.nPast, TOKENS.length)
  assert.deepEqual(kv.tokens, TOKENS)
  return max
}

// fp16 KV rounds keys and values to 11 significant bits in both paths alike, so the bound is the
// same order as fp32; 1e-3 leaves room for kernels that accumulate differently.
const VARIANTS: [string, Partial<BuildOptions>, string, number][] = [
  ['fp32 KV, int64 ids, position_ids', {}, 'model.onnx', 1e-4],
  ['fp16 KV', { kv: 'float16' }, 'model.onnx', 1e-3],
  ['int32 input_ids', { ids: 'int32' }, 'model.onnx', 1e-4],
  ['no position_ids', { positionIds: false }, 'model.onnx', 1e-4],
  ['num_logits_to_keep', { logitsToKeep: true }, 'model.onnx', 1e-4],
  ['int4 MatMulNBits weights', { q4: true }, 'model_q4.onnx', 1e-4],
  [
    'every option at once',
    { kv: 'float16', ids: 'int32', positionIds: false, logitsToKeep: true, q4: true },
    'model_q4.onnx',
    1e-3,
  ],
]

describe('ModelSession#forward', () => {
  for (const [what, opts, file, bound] of VARIANTS) {
    it(`gives the same logits cached as recomputed, ${what} (max abs diff < ${bound})`, async () => {
      const session = await open(what.replace(/\W+/g, '-'), opts, file)
      try {
        const diff = await cachedVsFull(session)
        console.log(`# ${what}: max abs diff ${diff.toExponential(2)}`)
        assert.ok(diff < bound, `max abs diff ${diff}`)
      } finally {
        await session.release()
      }
    })
  }

  it('appends several tokens onto an existing cache exactly as a full recompute', async () => {
    const session = await open('append', {})
    try {
      const full = await fullLogits(session, TOKENS)
      const kv = session.emptyCache()
      await session.forward(kv, TOKENS.slice(0, PREFILL), { logits: 'last' })
      const appended = await session.forward(kv, TOKENS.slice(PREFILL), { logits: 'all' })
      const expected = full.subarray(PREFILL * VOCAB)
      assert.ok(maxAbsDiff(appended, expected) < 1e-4)
    } finally {
      await session.release()
    }
  })

  it('shows a wrong position as a large difference', async () => {
    const session = await open('shift', {})
    try {
      const full = await fullLogits(session, TOKENS)
      const kv = session.emptyCache()
      await session.forward(kv, TOKENS.slice(0, PREFILL), { logits: 'last' })
      const shifted = await session.forward(kv, [TOKENS[PREFILL]!], { logits: 'last', positionShift: 1 })
      assert.ok(maxAbsDiff(shifted, row(full, PREFILL)) > 1e-2)
    } finally {
      await session.release()
    }
  })

  it('refuses to run past the context length', async () => {
    const session = await open('overflow', {})
    const kv: KvCache = session.emptyCache()
    try {
      await assert.rejects(session.forward(kv, new Array(65).fill(3), { logits: 'last' }), {
        code: 'CONTEXT_OVERFLOW',
      })
      assert.equal(kv.nPast, 0)
    } finally {
      await session.release()
    }
  })
})

describe('ModelSession#probeMultiTokenPass', () => {
  it('is true for a graph that takes several new tokens over a cache', async () => {
    const session = await open('probe-ok', {})
    assert.equal(await session.probeMultiTokenPass(), true)
    await session.release()
  })

  it('is false for a graph that fails on it, which still decodes one token at a time', async () => {
    const session = await open('probe-fail', { singleTokenPass: true })
    try {
      assert.equal(await session.probeMultiTokenPass(), false)
      assert.ok((await cachedVsFull(session)) < 1e-4)
    } finally {
      await session.release()
    }
  })
})

describe('readSignature', () => {
  const tensor = (name: string, type: 'int64' | 'float32' | 'float16' | 'bool' | 'int32', shape: (number | string)[]) =>
    ({ name, isTensor: true as const, type, shape })
  const kv = (layers: number, type: 'float32' | 'float16' = 'float32') =>
    Array.from({ length: layers }, (_, i) => [
      tensor(`past_key_values.${i}.key`, type, ['b', 3, 'p', 64]),
      tensor(`past_key_values.${i}.value`, type, ['b', 3, 'p', 64]),
    ]).flat()
  const presents = (layers: number) =>
    Array.from({ length: layers }, (_, i) => [
      tensor(`present.${i}.key`, 'float32', ['b', 3, 't', 64]),
      tensor(`present.${i}.value`, 'float32', ['b', 3, 't', 64]),
    ]).flat()
  const logits = tensor('logits', 'float32', ['b', 's', 100])
  const fallback = { kvHeads: 1, headDim: 1 }

  it('reads an old merged decoder with use_cache_branch and shapes from the metadata', () => {
    const sig = readSignature(
      [tensor('input_ids', 'int64', ['b', 's']), tensor('attention_mask', 'int64', ['b', 't']), ...kv(2), tensor('use_cache_branch', 'bool', [1])],
      [logits, ...presents(2)],
      fallback,
    )
    assert.equal(sig.useCacheBranch, true)
    assert.equal(sig.positions, null)
    assert.equal(sig.layers, 2)
    assert.equal(sig.kvHeads, 3)
    assert.equal(sig.headDim, 64)
    assert.deepEqual(sig.presentNames, ['present.0.key', 'present.0.value', 'present.1.key', 'present.1.value'])
  })

  it('names every input and output it cannot drive', () => {
    assert.throws(
      () =>
        readSignature(
          [tensor('input_ids', 'float32', ['b', 's']), tensor('cache_position', 'int64', ['s']), ...kv(2).slice(0, 3)],
          [logits, ...presents(1)],
          fallback,
        ),
      {
        code: 'MODEL_UNSUPPORTED',
        message:
          /unknown inputs cache_position; input_ids of type float32; no output present\.1\.key; no input past_key_values\.1\.value; no output present\.1\.value/,
      },
    )
  })

  it('refuses an export without a KV cache', () => {
    assert.throws(() => readSignature([tensor('input_ids', 'int64', ['b', 's'])], [logits], fallback), {
      code: 'MODEL_UNSUPPORTED',
      message: /no past_key_values inputs/,
    })
  })
})
