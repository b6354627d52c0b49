// The GPU path: on a GPU provider the KV cache stays on the device between decode steps, replaced
// tensors are freed, and the logits match the CPU's. Runs where a GPU provider opens; elsewhere
// each test is skipped with the reason every provider gave.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { knownUnavailable } from '../../../src-main/engine/providers.ts'
import { defaultProviders } from '../../../src-main/model-format/provider-defaults.ts'
import { openSession } from '../../../src-main/engine/open-session.ts'
import type { ModelSession} from '../../../src-main/engine/session.ts';
import { type SessionOptions } from '../../../src-main/engine/session.ts'
import { tempModels } from './fixtures.ts'

const TOKENS = [1, 77, 300, 5, 42, 42, 9, 511, 260, 3, 128, 64, 7, 99]
const PREFILL = 6
const VOCAB = 512

let models: Awaited<ReturnType<typeof tempModels>>
let gpu: ModelSession | null = null
let cpu: ModelSession
let skipReason = ''

before(async () => {
  models = await tempModels('gpu')
  const dir = await models.build('tiny', { vocab: VOCAB, contextLength: 64 })
  const file = path.join(dir, 'onnx', 'model.onnx')
  const opts = (provider: SessionOptions['provider']): SessionOptions => ({
    provider, threads: 2, contextLength: 64, kvHeads: 2, headDim: 16, vocab: VOCAB,
  })
  cpu = await openSession(file, opts('cpu'))
  const reasons: string[] = []
  for (const provider of defaultProviders().filter((p) => p !== 'cpu')) {
    const unavailable = knownUnavailable(provider)
    if (unavailable) {
      reasons.push(`${provider}: ${unavailable}`)
      continue
    }
    try {
      gpu = await openSession(file, opts(provider))
      break
    } catch (err) {
      reasons.push(`${provider}: ${(err as Error).message.split('\n')[0]}`)
    }
  }
  skipReason = `no GPU provider works here (${reasons.join('; ')})`
})
after(async () => {
  await gpu?.release()
  await cpu.release()
  await models.remove()
})

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!))
  return max
}

describe('ModelSession on a GPU provider', () => {
  it('decodes with the cache on the device and matches the CPU', async (t) => {
    if (!gpu) return t.skip(skipReason)
    const reference = (await cpu.forward(cpu.emptyCache(), TOKENS, { logits: 'all' })).slice()
    const kv = gpu.emptyCache()
    let max = maxAbsDiff(await gpu.forward(kv, TOKENS.slice(0, PREFILL), { logits: 'last' }), reference.subarray((PREFILL - 1) * VOCAB, PREFILL * VOCAB))
    for (let i = PREFILL; i < TOKENS.length; i++) {
      const before = kv.tensors[0]!
      const logits = await gpu.forward(kv, [TOKENS[i]!], { logits: 'last' })
      max = Math.max(max, maxAbsDiff(logits, reference.subarray(i * VOCAB, (i + 1) * VOCAB)))
      if (gpu.provider === 'webgpu') {
        assert.equal(kv.tensors[0]!.location, 'gpu-buffer')
        // The replaced past was freed on the device, not left for the garbage collector.
        if (i > PREFILL) assert.equal(before.location, 'none')
      }
    }
    console.log(`# ${gpu.provider}: max abs diff against the CPU ${max.toExponential(2)}`)
    assert.ok(max < 1e-3, `max abs diff ${max}`)
    kv.dispose()
  })

  it('cuts a cache short and continues from the cut with the same logits', async (t) => {
    if (!gpu) return t.skip(skipReason)
    const reference = (await cpu.forward(cpu.emptyCache(), TOKENS, { logits: 'all' })).slice()
    const kv = gpu.emptyCache()
    await gpu.forward(kv, TOKENS, { logits: 'last' })
    const onDevice = kv.onDevice
    kv.truncate(PREFILL)
    // A device cache is emptied (it cannot be read back); a host one keeps the prefix.
    assert.equal(kv.nPast, onDevice ? 0 : PREFILL)
    if (kv.nPast === 0) await gpu.forward(kv, TOKENS.slice(0, PREFILL), { logits: 'last' })
    const logits = await gpu.forward(kv, [TOKENS[PREFILL]!], { logits: 'last' })
    assert.ok(maxAbsDiff(logits, reference.subarray(PREFILL * VOCAB, (PREFILL + 1) * VOCAB)) < 1e-3)
    kv.dispose()
  })
})
