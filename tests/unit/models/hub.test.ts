import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { checkRepoId, createHubClient } from '../../../src-main/models/hub.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { closedPort, json, startFakeHub, startServer, type FakeHub } from './fake-hub.ts'

let root: string
let hub: FakeHub

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-hub-'))
  await buildModel(path.join(root, 'model'), { q4: true })
  // Three entries a page, so the listing takes several pages.
  hub = await startFakeHub(path.join(root, 'model'), { pageSize: 3 })
})

after(async () => {
  await hub.close()
  await rm(root, { recursive: true, force: true })
})

describe('HubClient#listFiles', () => {
  it('follows Link rel="next" pages and keeps files only, with LFS sha256 or git oid', async () => {
    const client = createHubClient({ endpoint: hub.endpoint })
    const commit = await client.resolveCommit(hub.repo, 'main')
    assert.equal(commit, hub.commit)

    const files = await client.listFiles(hub.repo, commit)

    assert.deepEqual(files.map((f) => f.path), [
      'config.json',
      'generation_config.json',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'onnx/model_q4.onnx',
      'onnx/model_q4.onnx_data',
      'tokenizer.json',
      'tokenizer_config.json',
    ])
    const data = files.find((f) => f.path === 'onnx/model.onnx_data')
    assert.match(data?.sha256 ?? '', /^[0-9a-f]{64}$/)
    assert.equal(data?.gitOid, null)
    const config = files.find((f) => f.path === 'config.json')
    assert.equal(config?.sha256, null)
    assert.match(config?.gitOid ?? '', /^[0-9a-f]{40}$/)
  })
})

describe('HubClient#listFiles pages', () => {
  const commit = 'c'.repeat(40)
  const entry = { type: 'file', path: 'config.json', size: 2, oid: 'a'.repeat(40) }

  it('refuses a next page on another origin and sends that origin nothing, the token least of all', async () => {
    const elsewhere = await startServer((_req, res) => json(res, 200, []))
    const hubServer = await startServer((_req, res) => {
      res.setHeader('link', `<${elsewhere.endpoint}/api/models/o/m/tree/${commit}?cursor=1>; rel="next"`)
      json(res, 200, [entry])
    })
    try {
      const client = createHubClient({ endpoint: hubServer.endpoint, token: 'secret' })
      await assert.rejects(client.listFiles('o/m', commit), {
        code: 'DOWNLOAD_FAILED',
        message: `The file list of o/m continues on another site (${elsewhere.endpoint}); Hearth follows pages on ${hubServer.endpoint} only`,
      })
      assert.deepEqual(hubServer.requests.map((r) => r.authorization), ['Bearer secret'])
      assert.deepEqual(elsewhere.requests, [])
    } finally {
      await Promise.all([elsewhere.close(), hubServer.close()])
    }
  })

  it('gives up on a listing that never ends', { timeout: 10_000 }, async () => {
    const endless = await startServer((_req, res, url) => {
      const cursor = Number(url.searchParams.get('cursor') ?? 0)
      res.setHeader('link', `<${url.pathname}?recursive=true&cursor=${cursor + 1}>; rel="next"`)
      json(res, 200, [entry])
    })
    try {
      const client = createHubClient({ endpoint: endless.endpoint })
      await assert.rejects(client.listFiles('o/m', commit), {
        code: 'DOWNLOAD_FAILED',
        message: 'The file list of o/m runs past 100 pages; Hearth stops there',
      })
      assert.equal(endless.requests.length, 100)
    } finally {
      await endless.close()
    }
  })
})

describe('HubClient timeouts and cancel', () => {
  it('fails with HUB_UNREACHABLE when the hub accepts the connection and never answers', { timeout: 10_000 }, async () => {
    const silent = await startServer(() => {})
    try {
      const client = createHubClient({ endpoint: silent.endpoint, timeoutMs: 50 })
      await assert.rejects(client.resolveCommit('o/m', 'main'), {
        code: 'HUB_UNREACHABLE',
        message: `The model hub at ${silent.endpoint} did not answer within 0.05 s. Check the network connection, or choose another endpoint (--endpoint or HF_ENDPOINT).`,
      })
    } finally {
      await silent.close()
    }
  })

  it('times out a listing whose body starts and never ends', { timeout: 10_000 }, async () => {
    const trickle = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('[')
    })
    try {
      const client = createHubClient({ endpoint: trickle.endpoint, timeoutMs: 50 })
      await assert.rejects(client.listFiles('o/m', 'c'.repeat(40)), { code: 'HUB_UNREACHABLE', message: /did not answer within 0\.05 s/ })
    } finally {
      await trickle.close()
    }
  })

  it('stops waiting for a silent hub as soon as its signal aborts', { timeout: 10_000 }, async () => {
    const silent = await startServer(() => {})
    try {
      const client = createHubClient({ endpoint: silent.endpoint, timeoutMs: 600_000 })
      const controller = new AbortController()
      const pending = client.resolveCommit('o/m', 'main', controller.signal)
      await silent.received()
      controller.abort()
      await assert.rejects(pending, { code: 'CANCELLED' })
    } finally {
      await silent.close()
    }
  })
})

describe('HubClient errors', () => {
  it('names the repository the hub does not know', async () => {
    const client = createHubClient({ endpoint: hub.endpoint })
    await assert.rejects(client.resolveCommit('nobody/nothing', 'main'), {
      code: 'NOT_FOUND',
      message: 'Repository nobody/nothing (revision main) was not found on the hub (404)',
    })
  })

  it('says which endpoint could not be reached and why', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`
    const client = createHubClient({ endpoint })
    await assert.rejects(client.resolveCommit(hub.repo, 'main'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'HUB_UNREACHABLE')
      assert.ok(err.message.startsWith(`Cannot reach the model hub at ${endpoint} (connection refused)`), err.message)
      return true
    })
  })

  it('rejects endpoints that are not http(s) URLs', () => {
    assert.throws(() => createHubClient({ endpoint: 'huggingface.co' }), { code: 'BAD_REQUEST' })
    assert.throws(() => createHubClient({ endpoint: 'file:///etc' }), { code: 'BAD_REQUEST' })
  })
})

describe('HubClient#fileUrl', () => {
  it('builds resolve URLs with each path segment encoded and the endpoint from HF_ENDPOINT', () => {
    const saved = process.env.HF_ENDPOINT
    process.env.HF_ENDPOINT = 'https://mirror.example/'
    try {
      const client = createHubClient()
      assert.equal(
        client.fileUrl('org/model', 'refs/pr/1', 'onnx/model q4.onnx'),
        'https://mirror.example/org/model/resolve/refs%2Fpr%2F1/onnx/model%20q4.onnx',
      )
    } finally {
      if (saved === undefined) delete process.env.HF_ENDPOINT
      else process.env.HF_ENDPOINT = saved
    }
  })
})

describe('checkRepoId', () => {
  it('accepts owner/name and legacy bare names, and rejects paths that climb', () => {
    checkRepoId('HuggingFaceTB/SmolLM2-135M-Instruct')
    checkRepoId('gpt2')
    for (const bad of ['../etc', 'a/../b', 'a/b/c', 'owner/', '', 'a b/c']) {
      assert.throws(() => checkRepoId(bad), { code: 'BAD_REQUEST' }, bad)
    }
  })
})
