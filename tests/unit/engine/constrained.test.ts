// Constrained decoding on a random-weight model: whatever the weights, a reply kept to a JSON
// Schema parses and matches it, and one kept to "any JSON" is JSON as far as it goes.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Engine } from '../../../src-main/engine/engine.ts'
import type { GenerateResult } from '../../../src-main/model-format/protocol.ts'
import type { GenerationParams, ResponseFormat } from '../../../src-shared/types.ts'
import { CHAT, GREEDY, tempModels } from './fixtures.ts'

let models: Awaited<ReturnType<typeof tempModels>>
let engine: Engine

before(async () => {
  models = await tempModels('constrained')
  engine = new Engine()
  await engine.load(await models.build('tiny'), { providers: ['cpu'], threads: 1 })
})
after(async () => {
  await engine.unload()
  await models.remove()
})

/** Every value is one of a few: a reply that keeps to it must end, whatever the model. */
const SCHEMA = {
  type: 'object',
  properties: {
    answer: { enum: ['yes', 'no', 'maybe'] },
    sure: { type: 'boolean' },
    level: { enum: [1, 2, 3] },
    note: { type: 'null' },
  },
  required: ['answer', 'sure', 'level', 'note'],
  additionalProperties: false,
}

function ask(responseFormat: ResponseFormat, params: Partial<GenerationParams>): Promise<GenerateResult> {
  return engine.generate({ messages: CHAT, params: { ...GREEDY, maxTokens: 1000, ...params }, responseFormat }, () => {}, () => false)
}

function assertMatches(text: string): void {
  const value = JSON.parse(text) as Record<string, unknown>
  assert.deepEqual(Object.keys(value).sort(), ['answer', 'level', 'note', 'sure'], text)
  assert.ok(['yes', 'no', 'maybe'].includes(value.answer as string), text)
  assert.equal(typeof value.sure, 'boolean', text)
  assert.ok([1, 2, 3].includes(value.level as number), text)
  assert.equal(value.note, null, text)
}

describe('constrained decoding', () => {
  it('keeps greedy and sampled replies to a JSON Schema, ending them where the JSON ends', async () => {
    const plain = await engine.generate({ messages: CHAT, params: { ...GREEDY, maxTokens: 40 } }, () => {}, () => false)
    assert.throws(() => JSON.parse(plain.text), 'the random model does not write JSON by itself')
    const greedy = await ask({ type: 'json_schema', schema: SCHEMA }, {})
    assertMatches(greedy.text)
    assert.equal(greedy.stats.stopReason, 'eos')
    for (let seed = 1; seed <= 6; seed++) {
      const sampled = await ask({ type: 'json_schema', schema: SCHEMA }, { temperature: 1.5, topK: 0, topP: 1, seed })
      assertMatches(sampled.text)
      assert.equal(sampled.stats.stopReason, 'eos')
      // Drafts would be verified against unmasked logits: a constrained reply decodes plainly.
      assert.equal(sampled.stats.speculation, undefined)
    }
  })

  it('keeps a reply to any JSON: an object that parses when it ends, a valid beginning when cut at the limit', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const result = await ask({ type: 'json_object' }, { temperature: 1, seed, maxTokens: 120 })
      assert.match(result.text, /^\s*[{[]/)
      if (result.stats.stopReason === 'eos') assert.equal(typeof JSON.parse(result.text), 'object', result.text)
      else assert.equal(result.stats.stopReason, 'length')
    }
  })

  it('refuses a schema it cannot compile as BAD_REQUEST, and answers the next request', async () => {
    await assert.rejects(ask({ type: 'json_schema', schema: { type: 'object', properties: { a: { $ref: '#/nowhere' } } } }, {}), { code: 'BAD_REQUEST' })
    assertMatches((await ask({ type: 'json_schema', schema: SCHEMA }, {})).text)
  })
})
