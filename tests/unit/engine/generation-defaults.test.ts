// The engine samples with the model's generation_config.json where a request leaves a field unset, and with no penalty or cut where the model names none.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Engine } from '../../../src-main/engine/engine.ts'
import { inspectModelFolder } from '../../../src-main/model-format/model-folder.ts'
import type { GenerationParams } from '../../../src-shared/types.ts'
import { CHAT, tempModels } from './fixtures.ts'

// Sampling as Qwen2.5's generation_config.json states it, with a stronger penalty.
const RECIPE = { do_sample: true, temperature: 0.9, top_k: 20, repetition_penalty: 1.3 }

let models: Awaited<ReturnType<typeof tempModels>>
let plain: Engine
let withRecipe: Engine
let recipeDir: string

before(async () => {
  models = await tempModels('generation-defaults')
  // The same weights twice (same seed): one folder names no sampling defaults, the other RECIPE.
  const plainDir = await models.build('plain')
  recipeDir = await models.build('recipe')
  const file = path.join(recipeDir, 'generation_config.json')
  await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), ...RECIPE }))
  plain = new Engine()
  withRecipe = new Engine()
  await plain.load(plainDir, { providers: ['cpu'], threads: 1 })
  await withRecipe.load(recipeDir, { providers: ['cpu'], threads: 1 })
})
after(async () => {
  await plain.unload()
  await withRecipe.unload()
  await models.remove()
})

async function tokens(engine: Engine, params: Partial<GenerationParams>): Promise<number[]> {
  return (await engine.generate({ messages: CHAT, params: { maxTokens: 16, seed: 5, ...params } }, () => {}, () => false)).tokens
}

describe('generation defaults from the model', () => {
  it("lists the model's sampling defaults on its summary", async () => {
    const summary = await inspectModelFolder(recipeDir)
    assert.ok(summary.valid)
    assert.deepEqual(summary.generationDefaults, { temperature: 0.9, topK: 20, repetitionPenalty: 1.3 })
  })

  it('samples with repetition_penalty 1.3 and top_k 20 from generation_config.json when the request leaves them out', async () => {
    const asRecipe = await tokens(plain, { temperature: 0.9, topK: 20, repetitionPenalty: 1.3 })
    assert.deepEqual(await tokens(withRecipe, {}), asRecipe)
    // The recipe shows in the output: without its penalty the same seed picks other tokens.
    assert.notDeepEqual(await tokens(plain, { temperature: 0.9, topK: 20 }), asRecipe)
  })

  it('applies no penalty and no cut for a model that names none', async () => {
    const neutral = await tokens(plain, { temperature: 0.7, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 })
    assert.deepEqual(await tokens(plain, {}), neutral)
    // What every chat used to get from the app's defaults: a penalty of 1.1 and cuts change the reply.
    assert.notDeepEqual(await tokens(plain, { topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1 }), neutral)
  })

  it("lets an asked-for value win over the model's", async () => {
    assert.deepEqual(await tokens(withRecipe, { repetitionPenalty: 1 }), await tokens(plain, { temperature: 0.9, topK: 20, repetitionPenalty: 1 }))
  })

  it("decodes greedily as plain argmax when asked for temperature 0, whatever the model's recipe", async () => {
    assert.deepEqual(await tokens(withRecipe, { temperature: 0 }), await tokens(plain, { temperature: 0, repetitionPenalty: 1 }))
    assert.notDeepEqual(await tokens(plain, { temperature: 0, repetitionPenalty: 1.3 }), await tokens(plain, { temperature: 0 }))
  })
})
