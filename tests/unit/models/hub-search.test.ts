// Discover against a Hub-like server: the search keeps only repositories Hearth can run, and a
// repository is read closely enough (listing sizes, config shapes) to fit each variant.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import { createHubClient } from '../../../src-main/models/hub.ts'
import { describeHubRepo, searchHub } from '../../../src-main/models/hub-search.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { closedPort, startFakeHub, type FakeHub } from './fake-hub.ts'

let root: string
let hub: FakeHub

const RUNNABLE = ['config.json', 'tokenizer.json', 'tokenizer_config.json']

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-hub-search-'))
  await buildModel(path.join(root, 'model'), { q4: true })
  hub = await startFakeHub(path.join(root, 'model'), {
    repo: 'test-org/tiny-chat-ONNX',
    others: [
      { id: 'test-org/tiny-chat-fp16-only', files: [...RUNNABLE, 'onnx/model_fp16.onnx'] },
      { id: 'test-org/tiny-chat-no-tokenizer', files: ['config.json', 'onnx/model.onnx'] },
      { id: 'test-org/tiny-chat-pytorch', files: [...RUNNABLE, 'model.safetensors'] },
      { id: 'other-org/unrelated', files: [...RUNNABLE, 'onnx/model.onnx'] },
    ],
  })
})

after(async () => {
  await hub.close()
  await rm(root, { recursive: true, force: true })
})

const code = (expected: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof AppError && err.code === expected && (pattern === undefined || pattern.test(err.message))

describe('searchHub', () => {
  it('asks for ONNX text-generation models by downloads and keeps those with a runnable export, with their variants', async () => {
    const found = await searchHub(createHubClient({ endpoint: hub.endpoint }), '  tiny-chat ')
    assert.deepEqual(found.map((m) => [m.repo, m.variants]), [
      ['test-org/tiny-chat-ONNX', ['q4', 'fp32']],
      ['test-org/tiny-chat-fp16-only', ['fp16']],
    ])
    assert.deepEqual([found[0]?.downloads, found[0]?.likes, found[0]?.gated], [1000, 7, false])
    const asked = new URL(hub.requests.at(-1)!.url, hub.endpoint).searchParams
    assert.deepEqual(
      ['search', 'filter', 'pipeline_tag', 'sort', 'full'].map((k) => asked.get(k)),
      ['tiny-chat', 'onnx', 'text-generation', 'downloads', 'true'],
    )
  })

  it('says the hub cannot be reached when nothing answers', async () => {
    await assert.rejects(searchHub(createHubClient({ endpoint: `http://127.0.0.1:${await closedPort()}` }), 'qwen'), code('HUB_UNREACHABLE'))
  })
})

describe('describeHubRepo', () => {
  it('sizes every variant from the listing and takes the shapes from config.json', async () => {
    const entry = await describeHubRepo(createHubClient({ endpoint: hub.endpoint }), hub.repo)
    assert.equal(entry.repo, 'test-org/tiny-chat-ONNX')
    assert.equal(entry.name, 'tiny-chat-ONNX')
    const files = await createHubClient({ endpoint: hub.endpoint }).listFiles(hub.repo, hub.commit)
    const size = (p: string) => files.find((f) => f.path === p)?.size ?? -1
    const q4 = entry.variants.find((v) => v.name === 'q4')
    assert.deepEqual(q4?.files, ['onnx/model_q4.onnx', 'onnx/model_q4.onnx_data'])
    assert.equal(q4?.bytes, size('onnx/model_q4.onnx') + size('onnx/model_q4.onnx_data'))
    assert.ok(entry.layers > 0 && entry.kvHeads > 0 && entry.headDim > 0 && entry.contextLength > 0)
    assert.ok(entry.parameters > 0)
  })

  it('refuses a repository that is not there', async () => {
    await assert.rejects(describeHubRepo(createHubClient({ endpoint: hub.endpoint }), 'test-org/nothing-here'), (err: unknown) => err instanceof AppError)
  })
})
