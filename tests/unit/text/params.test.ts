// How a generation's parameters are settled: asked-for values over the model's generation_config.json over neutral defaults.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mergeParams, resolveParams } from '../../../src-shared/params.ts'
import { DEFAULT_PARAMS, type SamplingDefaults } from '../../../src-shared/types.ts'
import { samplingDefaults } from '../../../src-main/model-format/model-config.ts'

describe('mergeParams', () => {
  it('puts later layers over earlier ones and skips undefined fields', () => {
    assert.deepEqual(mergeParams({ temperature: 0.3, topK: 5 }, { temperature: 0, stop: ['END'], topK: undefined }), { temperature: 0, topK: 5, stop: ['END'] })
  })

  it('keeps a seed of null from a later layer over a numeric one', () => {
    assert.equal(mergeParams({ seed: 7 }, { seed: null }).seed, null)
  })

  it('never shares a layer’s stop list', () => {
    const settings = { stop: ['a'] }
    mergeParams(settings, {}).stop?.push('b')
    assert.deepEqual(settings.stop, ['a'])
  })
})

describe('resolveParams', () => {
  const QWEN_LIKE: SamplingDefaults = { temperature: 0.7, topK: 20, topP: 0.8, repetitionPenalty: 1.3 }

  it("gives a model's stated defaults to the fields nothing asked for", () => {
    assert.deepEqual(resolveParams({ maxTokens: 9 }, QWEN_LIKE), { ...DEFAULT_PARAMS, ...QWEN_LIKE, maxTokens: 9 })
  })

  it('gives no penalty and no cut where the model names none', () => {
    const params = resolveParams({}, {})
    assert.deepEqual([params.repetitionPenalty, params.topK, params.topP, params.minP], [1, 0, 1, 0])
  })

  it("lets an asked-for value win over the model's", () => {
    const params = resolveParams({ repetitionPenalty: 1.05, topK: 0 }, QWEN_LIKE)
    assert.deepEqual([params.repetitionPenalty, params.topK, params.topP, params.temperature], [1.05, 0, 0.8, 0.7])
  })

  it("makes an asked-for temperature 0 plain argmax, setting the model's recipe aside, unless a penalty is asked too", () => {
    assert.deepEqual(resolveParams({ temperature: 0 }, QWEN_LIKE), { ...DEFAULT_PARAMS, temperature: 0 })
    assert.equal(resolveParams({ temperature: 0, repetitionPenalty: 1.2 }, QWEN_LIKE).repetitionPenalty, 1.2)
    // A model whose own recipe is greedy keeps its penalty: nothing asked for greedy.
    assert.equal(resolveParams({}, { temperature: 0, repetitionPenalty: 1.3 }).repetitionPenalty, 1.3)
  })
})

describe('samplingDefaults (generation_config.json)', () => {
  it('reads what it states, in our names', () => {
    const config = { do_sample: true, temperature: 0.6, top_k: 20, top_p: 0.9, min_p: 0.05, repetition_penalty: 1.3, eos_token_id: [2] }
    assert.deepEqual(samplingDefaults(config), { temperature: 0.6, topK: 20, topP: 0.9, minP: 0.05, repetitionPenalty: 1.3 })
  })

  it('reads nothing from a config that states nothing, or none at all', () => {
    assert.deepEqual(samplingDefaults({ bos_token_id: 1, eos_token_id: 2 }), {})
    assert.deepEqual(samplingDefaults(null), {})
  })

  it('takes do_sample false as greedy, keeping only the penalty', () => {
    assert.deepEqual(samplingDefaults({ do_sample: false, temperature: 0.6, top_k: 20, repetition_penalty: 1.2 }), { temperature: 0, repetitionPenalty: 1.2 })
  })

  it('ignores values out of range as if unnamed', () => {
    assert.deepEqual(samplingDefaults({ temperature: -1, top_k: 2.5, top_p: 0, min_p: 2, repetition_penalty: 0 }), {})
    assert.deepEqual(samplingDefaults({ temperature: '0.7', top_p: null }), {})
  })
})
