// What a model's declared context costs (issue 15): the position buffers follow the positions
// passes reach, and a config past MAX_CONTEXT_LENGTH is refused before anything is allocated.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { AppError } from '../../../src-shared/errors.ts'
import type { KvUpdate } from '../../../src-shared/types.ts'
import { loadModel } from '../../../src-main/engine/load-model.ts'
import { openSession } from '../../../src-main/engine/open-session.ts'
import type { ModelSession } from '../../../src-main/engine/session.ts'
import { MAX_CONTEXT_LENGTH } from '../../../src-main/model-format/model-config.ts'
import { tempModels } from './fixtures.ts'

const VOCAB = 512
const MiB = 2 ** 20

let models: Awaited<ReturnType<typeof tempModels>>
before(async () => {
  models = await tempModels('context-buffers')
})
after(async () => {
  await models.remove()
})

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length)
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!))
  return max
}

describe('a model whose config declares a huge context', () => {
  it('loads at MAX_CONTEXT_LENGTH without allocating for those positions', async () => {
    const dir = await models.build('ceiling', { vocab: VOCAB, contextLength: MAX_CONTEXT_LENGTH })
    const before = process.memoryUsage().arrayBuffers
    const model = await loadModel(dir, { threads: 1 })
    try {
      // Buffers for every declared position would be 2 × 8 bytes × 2^24 = 256 MiB.
      const grown = process.memoryUsage().arrayBuffers - before
      assert.ok(grown < 32 * MiB, `loading grew ArrayBuffers by ${(grown / MiB).toFixed(1)} MiB`)
      assert.equal(model.info.contextLength, MAX_CONTEXT_LENGTH)
      assert.ok(model.session.coveredPositions <= 512, `${model.session.coveredPositions} positions covered before any prompt`)
    } finally {
      await model.session.release()
    }
  })

  it('is refused past MAX_CONTEXT_LENGTH as MODEL_INVALID, naming the field', async () => {
    const dir = await models.build('absurd', { vocab: VOCAB, contextLength: 1e9 })
    await assert.rejects(loadModel(dir, { threads: 1 }), (err: unknown) => {
      assert.ok(err instanceof AppError)
      assert.equal(err.code, 'MODEL_INVALID')
      assert.match(err.message, /max_position_embeddings \(1000000000\)/)
      return true
    })
  })
})

describe('ModelSession position buffers', () => {
  const PROMPT = Array.from({ length: 700 }, (_, i) => (i * 37 + 11) % VOCAB)
  const DECODED = [5, 300, 42]
  const CHUNK = 256

  /**
   * Logits of every position from a graph that numbers positions itself (no position_ids input,
   * so the export's own copy update): a reference that reads neither buffer's growth. Same seed,
   * same weights.
   */
  let reference: Float32Array
  before(async () => {
    const dir = await models.build('reference', { vocab: VOCAB, positionIds: false })
    const session = await openSession(path.join(dir, 'onnx', 'model.onnx'), {
      provider: 'cpu', threads: 1, contextLength: 1024, kvHeads: 2, headDim: 16, vocab: VOCAB,
    })
    reference = (await session.forward(session.emptyCache(), [...PROMPT, ...DECODED], { logits: 'all' })).slice()
    await session.release()
  })

  for (const kvUpdate of ['split', 'copy'] as const satisfies readonly KvUpdate[]) {
    it(`grow as a ${kvUpdate} prompt passes the first ones, and its logits match a full pass`, async () => {
      const dir = await models.build(`grow-${kvUpdate}`, { vocab: VOCAB })
      const session: ModelSession = await openSession(path.join(dir, 'onnx', 'model.onnx'), {
        provider: 'cpu', threads: 1, contextLength: MAX_CONTEXT_LENGTH, kvHeads: 2, headDim: 16, vocab: VOCAB, kvUpdate,
      })
      try {
        assert.equal(session.kvUpdate, kvUpdate)
        const first = session.coveredPositions
        assert.ok(first < PROMPT.length, `${first} positions covered at load`)
        const kv = session.emptyCache()
        const row = (i: number): Float32Array => reference.subarray(i * VOCAB, (i + 1) * VOCAB)
        let max = 0
        for (let at = 0; at < PROMPT.length; at += CHUNK) {
          const chunk = PROMPT.slice(at, at + CHUNK)
          const logits = await session.forward(kv, chunk, { logits: 'last' })
          max = Math.max(max, maxAbsDiff(logits, row(at + chunk.length - 1)))
        }
        for (const [i, token] of DECODED.entries()) {
          max = Math.max(max, maxAbsDiff(await session.forward(kv, [token], { logits: 'last' }), row(PROMPT.length + i)))
        }
        assert.ok(max < 1e-4, `max |diff| ${max}`)
        const total = PROMPT.length + DECODED.length
        assert.ok(session.coveredPositions >= total && session.coveredPositions <= 2 * total, `${session.coveredPositions} positions covered for ${total}`)
      } finally {
        await session.release()
      }
    })
  }
})
