// The model picker's rows: names as people read them, and what a search keeps.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { displayName, matchesQuery, modelChoices } from '../../../src-renderer/lib/model-choices.ts'
import type { ModelSummary, RemoteProvider, VariantName } from '../../../src-shared/types.ts'

type LocalModel = Extract<ModelSummary, { valid: true }>

function local(id: string, architecture: string, variants: VariantName[]): LocalModel {
  return {
    valid: true,
    id,
    name: id,
    dir: `/models/${id}`,
    architecture,
    parameters: 135_000_000,
    contextLength: 8192,
    layers: 2,
    kvHeads: 1,
    headDim: 8,
    hiddenSize: 16,
    vocabSize: 100,
    declaredKvDtype: null,
    generationDefaults: {},
    variants: variants.map((name) => ({ name, file: `onnx/model_${name}.onnx`, bytes: 1000 })),
    conversion: null,
  }
}

function server(id: string, name: string, models: string[]): RemoteProvider {
  return {
    id,
    name,
    baseUrl: `http://${name}/v1`,
    models: models.map((m) => ({ id: `remote:${id}:${m}`, name: m })),
    modelsFetchedAt: 0,
    hasApiKey: false,
    keyStorage: null,
  }
}

const LIBRARY = [local('HuggingFaceTB--SmolLM2-135M-Instruct', 'llama', ['q4', 'fp32']), local('qwen-small', 'qwen2', ['fp16'])]
const SERVERS = [server('a', 'ollama-box', ['llama3.2:3b', 'qwen2.5:7b']), server('b', 'lab', ['mistral'])]

const ids = (query: string) => modelChoices(LIBRARY, SERVERS, query).map((g) => [g.label, g.choices.map((c) => c.id)])

describe('displayName', () => {
  it("drops a downloaded folder's Hub owner, in both of its id forms", () => {
    assert.equal(displayName('HuggingFaceTB--SmolLM2-135M-Instruct'), 'SmolLM2-135M-Instruct')
    assert.equal(displayName('+a--b+c--d'), 'c--d')
  })

  it('leaves any other folder name as it is', () => {
    assert.equal(displayName('tiny-chat'), 'tiny-chat')
    assert.equal(displayName('--odd'), '--odd')
    assert.equal(displayName('odd--'), 'odd--')
  })
})

describe('matchesQuery', () => {
  it('needs every word somewhere, ignoring case and extra spaces', () => {
    assert.equal(matchesQuery('  SMOL  q4 ', ['SmolLM2', 'q4']), true)
    assert.equal(matchesQuery('smol fp16', ['SmolLM2', 'q4']), false)
    assert.equal(matchesQuery('', ['anything']), true)
  })
})

describe('modelChoices', () => {
  it('lists the library, then each server in its own group', () => {
    assert.deepEqual(ids(''), [
      ['Local', ['HuggingFaceTB--SmolLM2-135M-Instruct', 'qwen-small']],
      ['Remote · ollama-box', ['remote:a:llama3.2:3b', 'remote:a:qwen2.5:7b']],
      ['Remote · lab', ['remote:b:mistral']],
    ])
  })

  it("finds local models by architecture and by a variant's quantization", () => {
    assert.deepEqual(ids('qwen2'), [
      ['Local', ['qwen-small']],
      ['Remote · ollama-box', ['remote:a:qwen2.5:7b']],
    ])
    assert.deepEqual(ids('fp16'), [['Local', ['qwen-small']]])
    assert.deepEqual(ids('llama q4'), [['Local', ['HuggingFaceTB--SmolLM2-135M-Instruct']]])
  })

  it("finds remote models by the server's name and leaves out groups with nothing left", () => {
    assert.deepEqual(ids('lab'), [['Remote · lab', ['remote:b:mistral']]])
    assert.deepEqual(ids('nothing like it'), [])
  })
})
