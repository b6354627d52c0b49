import assert from 'node:assert/strict'
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import type { DownloadProgress } from '../../../src-shared/types.ts'
import { nodeIo, type DownloadIo } from '../../../src-main/models/file-download.ts'
import { createModelLibrary, type ModelLibrary } from '../../../src-main/models/library.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { closedPort, startFakeHub, startServer, type FakeHub } from './fake-hub.ts'

const DATA = 'onnx/model_q4.onnx_data'
const Q4_FILES = [
  'config.json',
  'generation_config.json',
  'onnx/model_q4.onnx',
  DATA,
  'tokenizer.json',
  'tokenizer_config.json',
]

let root: string
let sourceDir: string
let hub: FakeHub
let modelsDir: string

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-downloads-'))
  sourceDir = path.join(root, 'source')
  await buildModel(sourceDir, { q4: true })
  hub = await startFakeHub(sourceDir)
})

after(async () => {
  await hub.close()
  await rm(root, { recursive: true, force: true })
})

beforeEach(async () => {
  modelsDir = await mkdtemp(path.join(root, 'models-'))
  hub.requests.length = 0
})

interface OpenOptions {
  io?: DownloadIo
  endpoint?: string
  token?: string
  hubTimeoutMs?: number
  retries?: number
  stallMs?: number
}

function open(options: OpenOptions = {}): ModelLibrary {
  return createModelLibrary({
    modelsDir,
    endpoint: options.endpoint ?? hub.endpoint,
    token: options.token,
    hubTimeoutMs: options.hubTimeoutMs,
    io: options.io,
    progressIntervalMs: 0,
    fileOptions: { retries: options.retries ?? 3, retryDelayMs: () => 0, stallMs: options.stallMs ?? 10_000 },
  })
}

async function download(library: ModelLibrary, variant: 'q4' | 'fp32' = 'q4', repo = hub.repo): Promise<DownloadProgress> {
  const job = await library.download({ repo, variant })
  return library.waitForDownload(job.jobId)
}

/** Resolves with the first progress event matching the predicate. */
function progressWhere(library: ModelLibrary, predicate: (p: DownloadProgress) => boolean): Promise<DownloadProgress> {
  return new Promise((resolve) => {
    const off = library.on('download', (p) => {
      if (predicate(p)) {
        off()
        resolve(p)
      }
    })
  })
}

async function sizeOf(rel: string): Promise<number> {
  return (await stat(path.join(sourceDir, rel))).size
}

const cdnRequests = (file: string) => hub.requests.filter((r) => r.url === `/cdn/${encodeURIComponent(file)}`)
/** The repo file a resolve or CDN request was for. */
const fileOf = (url: string) => decodeURIComponent(url.replace(/^\/cdn\//, '').replace(/^\/[^/]+\/[^/]+\/resolve\/[^/]+\//, ''))
const requestedFiles = () => [...new Set(hub.requests.map((r) => fileOf(r.url)))].sort()
const stagedPart = (rel: string) => path.join(modelsDir, '.downloads', 'test-org--tiny-model@q4', `${rel}.part`)

describe('ModelLibrary#download', () => {
  it('fetches only the files the variant needs and installs a usable model', async () => {
    const library = open()
    const changed: string[] = []
    library.on('changed', ({ modelId }) => changed.push(modelId))
    const events: DownloadProgress[] = []
    library.on('download', (p) => events.push(p))

    const result = await download(library)

    assert.equal(result.state, 'done', JSON.stringify(result.error))
    assert.deepEqual(requestedFiles(), Q4_FILES)
    const [model] = await library.list()
    assert.ok(model?.valid, JSON.stringify(model))
    assert.equal(model.id, 'test-org--tiny-model')
    assert.deepEqual(model.variants.map((v) => v.name), ['q4'])
    assert.deepEqual(await readdir(path.join(modelsDir, '.downloads')), [])
    assert.deepEqual(changed, ['test-org--tiny-model'])

    const total = (await Promise.all(Q4_FILES.map(sizeOf))).reduce((a, b) => a + b, 0)
    assert.equal(result.bytesTotal, total)
    assert.equal(result.bytesDone, total)
    for (let i = 1; i < events.length; i++) {
      assert.ok(events[i]!.bytesDone >= events[i - 1]!.bytesDone, 'progress never goes back on a clean run')
    }
    assert.deepEqual([...new Set(events.map((e) => e.state))], ['queued', 'downloading', 'verifying', 'done'])
  })

  it('resumes with a Range request after the connection drops mid-file', async () => {
    hub.cut(DATA, 100_000)
    const result = await download(open())

    assert.equal(result.state, 'done', JSON.stringify(result.error))
    assert.deepEqual(cdnRequests(DATA).map((r) => r.range), [null, 'bytes=100000-'])
    const [model] = await open().list()
    assert.ok(model?.valid)
  })

  it('gives up naming the file when the connection keeps dropping without progress, keeping the part', async () => {
    hub.cut(DATA, 0, 10)
    try {
      const result = await download(open())
      assert.equal(result.state, 'failed')
      assert.equal(result.error?.code, 'DOWNLOAD_FAILED')
      assert.match(result.error?.message ?? '', /^Downloading onnx\/model_q4\.onnx_data failed 4 times in a row/)
      assert.equal(cdnRequests(DATA).length, 4, 'the first try and 3 retries')
      assert.equal((await open().partialDownloads()).length, 1)
    } finally {
      hub.cut(DATA, 0, 0)
    }
  })

  it('resumes from the .part file in a new library instance after a restart', async () => {
    const first = open()
    const held = hub.holdOnce(DATA, 50_000)
    const dataSize = await sizeOf(DATA)
    const job = await first.download({ repo: hub.repo, variant: 'q4' })
    await held
    const reached = await progressWhere(first, (p) => p.file === DATA && p.bytesDone === p.bytesTotal - dataSize + 50_000)
    await first.cancelDownload(job.jobId, { keepPartial: true })

    const second = open()
    assert.deepEqual(await second.list(), [], 'nothing is listed before the download completes')
    const [partial] = await second.partialDownloads()
    assert.equal(partial?.bytesDone, reached.bytesDone)
    assert.equal(partial?.variant, 'q4')
    hub.requests.length = 0

    const result = await download(second)

    assert.equal(result.state, 'done', JSON.stringify(result.error))
    assert.deepEqual(cdnRequests(DATA).map((r) => r.range), ['bytes=50000-'])
    assert.deepEqual(requestedFiles(), [DATA], 'finished files are not fetched again')
    assert.ok((await second.list())[0]?.valid)
    assert.deepEqual(await second.partialDownloads(), [])
  })

  it('starts a file over when the server says its copy changed since the part began', async () => {
    const first = open()
    const held = hub.holdOnce(DATA, 50_000)
    const dataSize = await sizeOf(DATA)
    const job = await first.download({ repo: hub.repo, variant: 'q4' })
    await held
    await progressWhere(first, (p) => p.file === DATA && p.bytesDone === p.bytesTotal - dataSize + 50_000)
    await first.cancelDownload(job.jobId, { keepPartial: true })
    const sidecar = `${stagedPart(DATA)}.json`
    await writeFile(sidecar, JSON.stringify({ ...JSON.parse(await readFile(sidecar, 'utf8')), etag: '"stale"' }))
    hub.requests.length = 0

    const result = await download(open())

    assert.equal(result.state, 'done', JSON.stringify(result.error))
    assert.equal(result.bytesDone, result.bytesTotal)
    assert.deepEqual(cdnRequests(DATA).map((r) => r.range), ['bytes=50000-'], 'answered with the whole file (200)')
    assert.ok((await open().list())[0]?.valid)
  })

  it('never installs a file whose hash does not match, and deletes its part', async () => {
    hub.corrupt(DATA, true)
    const library = open()
    try {
      const result = await download(library)
      assert.equal(result.state, 'failed')
      assert.equal(result.error?.code, 'DOWNLOAD_CORRUPT')
      assert.match(result.error?.message ?? '', /onnx\/model_q4\.onnx_data failed verification/)
      assert.deepEqual(await library.list(), [])
      await assert.rejects(stat(stagedPart(DATA)), { code: 'ENOENT' })
    } finally {
      hub.corrupt(DATA, false)
    }
    hub.requests.length = 0
    const retry = await download(library)
    assert.equal(retry.state, 'done')
    assert.deepEqual(requestedFiles(), [DATA], 'verified files are not fetched again')
  })

  it('fails with an error naming the file the hub does not have', async () => {
    hub.missing(DATA, true)
    try {
      const result = await download(open())
      assert.equal(result.state, 'failed')
      assert.equal(result.error?.code, 'NOT_FOUND')
      assert.match(result.error?.message ?? '', /onnx\/model_q4\.onnx_data was not found/)
      assert.deepEqual(await open().list(), [])
      const plan = path.join(modelsDir, '.downloads', 'test-org--tiny-model@q4', 'plan.json')
      await assert.rejects(stat(plan), { code: 'ENOENT' }, 'the next attempt asks the hub for the file list again')
    } finally {
      hub.missing(DATA, false)
    }
  })

  it('refuses to start when the disk has less free space than the download needs', async () => {
    const io: DownloadIo = { ...nodeIo, freeBytes: async () => 1_000_000 }
    const result = await download(open({ io }))

    assert.equal(result.state, 'failed')
    assert.equal(result.error?.code, 'DISK_FULL')
    assert.match(result.error?.message ?? '', /needs .* more and .* has 1\.0 MB free/)
    assert.equal(hub.requests.length, 0, 'no file was requested')
  })

  it('stops with DISK_FULL when a write fails with ENOSPC, and resumes once there is room', async () => {
    const room = 60_000
    let written = 0
    const io: DownloadIo = {
      freeBytes: nodeIo.freeBytes,
      async openAppend(file) {
        const writer = await nodeIo.openAppend(file)
        if (!file.endsWith(`${DATA}.part`)) return writer
        return {
          ...writer,
          // Like a filling disk: what fits is written, then the write fails.
          async write(chunk) {
            const fits = Math.min(chunk.byteLength, room - written)
            await writer.write(chunk.subarray(0, fits))
            written += fits
            if (fits < chunk.byteLength) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
          },
        }
      },
    }
    const result = await download(open({ io }))
    assert.equal(result.state, 'failed')
    assert.equal(result.error?.code, 'DISK_FULL')
    const kept = (await stat(stagedPart(DATA))).size
    assert.equal(kept, room)

    hub.requests.length = 0
    const resumed = await download(open())
    assert.equal(resumed.state, 'done', JSON.stringify(resumed.error))
    assert.deepEqual(cdnRequests(DATA).map((r) => r.range), [`bytes=${kept}-`])
  })

  it('reports an endpoint that refuses connections clearly', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`
    const library = open({ endpoint })

    const result = await download(library)
    assert.equal(result.state, 'failed')
    assert.equal(result.error?.code, 'HUB_UNREACHABLE')
    assert.ok(result.error?.message.includes(`${endpoint} (connection refused)`), result.error?.message)
    await assert.rejects(library.download({ repo: hub.repo }), { code: 'HUB_UNREACHABLE' })
  })

  it('deletes the staged files when cancelled without keeping them', async () => {
    const library = open()
    const held = hub.holdOnce(DATA, 20_000)
    const job = await library.download({ repo: hub.repo, variant: 'q4' })
    await held
    const result = await library.cancelDownload(job.jobId)

    assert.equal(result.state, 'cancelled')
    assert.deepEqual(await library.partialDownloads(), [])
    assert.deepEqual(await readdir(path.join(modelsDir, '.downloads')), [])
  })

  it('runs one job at a time and adds a second variant to the same model', async () => {
    const library = open()
    const order: string[] = []
    library.on('download', (p) => order.push(`${p.variant}:${p.state}`))
    const q4 = await library.download({ repo: hub.repo, variant: 'q4' })
    const again = await library.download({ repo: hub.repo, variant: 'q4' })
    const fp32 = await library.download({ repo: hub.repo, variant: 'fp32' })

    assert.equal(again.jobId, q4.jobId, 'the same unfinished download is one job')
    assert.equal((await library.waitForDownload(fp32.jobId)).state, 'done')
    assert.ok(order.indexOf('q4:done') < order.indexOf('fp32:downloading'))
    const [model] = await library.list()
    assert.ok(model?.valid)
    assert.deepEqual(model.variants.map((v) => v.name).sort(), ['fp32', 'q4'])
  })
})

describe('ModelLibrary#download against a hub that stalls', () => {
  it('fails the plan with a timeout error when the hub accepts and never answers', { timeout: 10_000 }, async () => {
    const silent = await startServer(() => {})
    try {
      const result = await download(open({ endpoint: silent.endpoint, hubTimeoutMs: 50 }))
      assert.equal(result.state, 'failed')
      assert.equal(result.error?.code, 'HUB_UNREACHABLE')
      assert.match(result.error?.message ?? '', /did not answer within 0\.05 s/)
    } finally {
      await silent.close()
    }
  })

  it('cancels a download while its plan waits on a silent hub', { timeout: 10_000 }, async () => {
    const silent = await startServer(() => {})
    try {
      const library = open({ endpoint: silent.endpoint, hubTimeoutMs: 600_000 })
      const job = await library.download({ repo: hub.repo, variant: 'q4' })
      await silent.received()
      const result = await library.cancelDownload(job.jobId)
      assert.equal(result.state, 'cancelled')
      assert.equal(result.error, null)
      assert.deepEqual(await library.partialDownloads(), [])
    } finally {
      await silent.close()
    }
  })

  it('fails a file whose server goes quiet, naming it, and keeps what arrived', { timeout: 10_000 }, async () => {
    const held = hub.holdOnce(DATA, 20_000)
    const pending = download(open({ stallMs: 50, retries: 0 }))
    await held

    const result = await pending

    assert.equal(result.state, 'failed')
    assert.equal(result.error?.code, 'DOWNLOAD_FAILED')
    assert.equal(result.error?.message, `No data arrived for ${DATA} in 0.05 s`)
    assert.equal((await stat(stagedPart(DATA))).size, 20_000)
  })
})

describe('ModelLibrary#download credentials', () => {
  it('sends the token to the hub and none to a CDN on another origin', async () => {
    const cdn = await startFakeHub(sourceDir)
    const mirror = await startFakeHub(sourceDir, { cdn: cdn.endpoint })
    try {
      const result = await download(open({ endpoint: mirror.endpoint, token: 'secret' }))

      assert.equal(result.state, 'done', JSON.stringify(result.error))
      assert.ok(cdn.requests.length > 0, 'LFS files came from the CDN')
      assert.deepEqual([...new Set(cdn.requests.map((r) => r.authorization))], [null])
      assert.deepEqual([...new Set(mirror.requests.map((r) => r.authorization))], ['Bearer secret'])
    } finally {
      await Promise.all([cdn.close(), mirror.close()])
    }
  })
})

describe('ModelLibrary#download folders', () => {
  it('installs a--b/c and a/b--c into folders of their own', async () => {
    const first = await startFakeHub(sourceDir, { repo: 'a--b/c' })
    const second = await startFakeHub(sourceDir, { repo: 'a/b--c' })
    try {
      const one = await download(open({ endpoint: first.endpoint }), 'q4', 'a--b/c')
      const other = await download(open({ endpoint: second.endpoint }), 'fp32', 'a/b--c')

      assert.equal(one.state, 'done', JSON.stringify(one.error))
      assert.equal(other.state, 'done', JSON.stringify(other.error))
      assert.notEqual(one.modelId, other.modelId)
      const listed = await open().list()
      assert.deepEqual(listed.map((m) => [m.id, m.valid && m.variants.map((v) => v.name)]).sort(), [
        [one.modelId, ['q4']],
        [other.modelId, ['fp32']],
      ].sort())
    } finally {
      await Promise.all([first.close(), second.close()])
    }
  })

  it("refuses to install into a folder that holds another repository's download, and leaves it alone", async () => {
    const folder = path.join(modelsDir, 'test-org--tiny-model')
    await mkdir(folder)
    await writeFile(path.join(folder, '.hearth-download.json'), JSON.stringify({ repo: 'someone/else' }))
    await writeFile(path.join(folder, 'config.json'), '{}')

    const result = await download(open())

    assert.equal(result.state, 'failed')
    assert.equal(result.error?.code, 'CONFLICT')
    assert.equal(
      result.error?.message,
      `${folder} holds someone/else, not test-org/tiny-model; Hearth will not install one repository over another. Remove that model first.`,
    )
    assert.equal(hub.requests.length, 0, 'no file was requested')
    assert.deepEqual((await readdir(folder)).sort(), ['.hearth-download.json', 'config.json'])
  })

  it('adds a variant to a folder an earlier Hearth downloaded, and marks it as that repository\'s', async () => {
    const folder = path.join(modelsDir, 'test-org--tiny-model')
    await cp(sourceDir, folder, { recursive: true, filter: (from) => !/model_q4/.test(from) })

    const result = await download(open())

    assert.equal(result.state, 'done', JSON.stringify(result.error))
    assert.equal(result.modelId, 'test-org--tiny-model')
    const [model] = await open().list()
    assert.ok(model?.valid)
    assert.deepEqual(model.variants.map((v) => v.name).sort(), ['fp32', 'q4'])
    assert.deepEqual(JSON.parse(await readFile(path.join(folder, '.hearth-download.json'), 'utf8')), { repo: hub.repo })
  })
})
