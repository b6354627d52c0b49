// The decode loop on a session of each KV update kind (split, append, the export's own copy) and
// an fp16 cache: speculative passes give the tokens plain passes give, and leave the cache holding
// exactly the prompt and the tokens handed out but the last.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { buildModel, type BuildOptions } from '../../../tools/model-builder/build-model.ts'
import { decodeTokens } from '../../../src-main/engine/decode.ts'
import { openSession } from '../../../src-main/engine/open-session.ts'
import { createRng } from '../../../src-main/engine/sampler.ts'
import type { ModelSession } from '../../../src-main/engine/session.ts'
import { Speculator } from '../../../src-main/engine/speculation/speculator.ts'
import type { KvUpdate } from '../../../src-shared/types.ts'
import { GREEDY } from './fixtures.ts'

const VOCAB = 512
const CONTEXT = 128
const PROMPT = [1, 77, 300, 5, 42, 42, 9, 511, 260, 3, 128, 64, 7, 99, 300, 5]
const LIMIT = 60

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-decode-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

async function open(name: string, kvUpdate: KvUpdate, opts: Partial<BuildOptions> = {}): Promise<ModelSession> {
  const dir = path.join(root, name)
  await buildModel(dir, { vocab: VOCAB, contextLength: CONTEXT, endless: true, ...opts })
  const session = await openSession(path.join(dir, 'onnx', 'model.onnx'), {
    provider: 'cpu', threads: 1, contextLength: CONTEXT, kvHeads: 2, headDim: 16, vocab: VOCAB, kvUpdate,
  })
  assert.equal(session.kvUpdate, kvUpdate)
  return session
}

/** Prefills PROMPT and decodes LIMIT tokens (plainly, or with `prediction` as the draft source). */
async function decode(session: ModelSession, prediction: number[] | null): Promise<{ tokens: number[]; cached: number[]; accepted: number }> {
  const cache = session.emptyCache()
  const logits = (await session.forward(cache, PROMPT, { logits: 'last' })).slice()
  const rng = createRng(1)
  const speculator = prediction ? new Speculator({ session, params: GREEDY, rng, prompt: PROMPT, prediction, cacheKey: 'c' }) : null
  const tokens: number[] = []
  for await (const token of decodeTokens({ session, cache, logits, params: GREEDY, rng, limit: LIMIT, cancelled: () => false, speculator })) {
    tokens.push(token)
    if (tokens.length === LIMIT) break
  }
  const cached = [...cache.tokens]
  cache.dispose()
  return { tokens, cached, accepted: speculator?.stats()?.accepted ?? 0 }
}

describe('decodeTokens', () => {
  for (const [kvUpdate, opts] of [
    ['split', {}],
    ['append', {}],
    ['copy', {}],
    ['split', { kv: 'float16' }],
  ] as [KvUpdate, Partial<BuildOptions>][]) {
    it(`speculates to the plain tokens with a ${kvUpdate} cache${opts.kv ? ` in ${opts.kv}` : ''}`, async () => {
      const session = await open(`${kvUpdate}-${opts.kv ?? 'f32'}`, kvUpdate, opts)
      try {
        const plain = await decode(session, null)
        assert.equal(plain.tokens.length, LIMIT)
        assert.deepEqual(plain.cached, [...PROMPT, ...plain.tokens.slice(0, -1)])
        // An exact prediction, then one with every fifth token wrong: runs kept, runs cut back.
        const edited = plain.tokens.map((t, i) => (i % 5 === 4 ? (t + 1) % VOCAB : t))
        for (const prediction of [plain.tokens, edited]) {
          const spec = await decode(session, prediction)
          assert.deepEqual(spec.tokens, plain.tokens)
          assert.deepEqual(spec.cached, plain.cached)
          assert.ok(spec.accepted > 0)
        }
      } finally {
        await session.release()
      }
    })
  }
})
