// A Hub-like HTTP server on 127.0.0.1 serving one model folder, with faults tests switch on.

import { createHash } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'

export interface FakeHub {
  endpoint: string
  repo: string
  commit: string
  /** Every file request (resolve and CDN), in order, with its Range and Authorization headers. */
  requests: Array<{ url: string; range: string | null; authorization: string | null }>
  /** The next `times` CDN responses for the file send `bytes` bytes, then the connection is cut. */
  cut(file: string, bytes: number, times?: number): void
  /** The next CDN response for the file sends `bytes` bytes, then hangs until the client leaves. */
  holdOnce(file: string, bytes: number): Promise<void>
  /** The file's content is served with one byte flipped (its listing keeps the true hash). */
  corrupt(file: string, on: boolean): void
  /** The resolve URL of the file answers 404, as when a mirror lacks it. */
  missing(file: string, on: boolean): void
  close(): Promise<void>
}

interface Served {
  content: Buffer
  sha256: string
  gitOid: string
  lfs: boolean
}

/** Files over this size are listed and served as LFS (redirect to the CDN), like the Hub does. */
const LFS_THRESHOLD = 10_000

export async function startFakeHub(
  modelDir: string,
  /**
   * cdn: the origin LFS files redirect to (another fake hub's), instead of this server's /cdn.
   * others: more repositories the model search lists (by id and file names), beside this one.
   */
  options: { repo?: string; pageSize?: number; cdn?: string; others?: { id: string; files: string[] }[] } = {},
): Promise<FakeHub> {
  const repo = options.repo ?? 'test-org/tiny-model'
  const commit = createHash('sha1').update(repo).digest('hex')
  const files = new Map<string, Served>()
  for (const rel of await walk(modelDir)) {
    const content = await readFile(path.join(modelDir, rel))
    files.set(rel, {
      content,
      sha256: createHash('sha256').update(content).digest('hex'),
      gitOid: createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex'),
      lfs: content.length > LFS_THRESHOLD,
    })
  }
  const cuts = new Map<string, { bytes: number; times: number }>()
  const holds = new Map<string, { bytes: number; reached: () => void }>()
  const corrupted = new Set<string>()
  const missingFiles = new Set<string>()
  const requests: FakeHub['requests'] = []

  const tree = [...files.entries()].map(([p, f]) => ({
    type: 'file',
    path: p,
    size: f.content.length,
    oid: f.gitOid,
    ...(f.lfs ? { lfs: { oid: f.sha256, size: f.content.length, pointerSize: 134 } } : {}),
  }))
  tree.unshift({ type: 'directory', path: 'onnx', size: 0, oid: createHash('sha1').update('onnx').digest('hex') })

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent)
    const repoMatches = `${parts[0] ?? ''}/${parts[1] ?? ''}` === repo

    if (parts[0] === 'api' && parts[1] === 'models' && parts.length === 2) {
      // The model search: every repository whose id holds the query, as the Hub's list with full=true.
      requests.push({ ...requestOf(req, url), url: url.pathname + url.search })
      const query = (url.searchParams.get('search') ?? '').toLowerCase()
      const listed = [{ id: repo, files: [...files.keys()] }, ...(options.others ?? [])]
      return json(
        res,
        200,
        listed
          .filter((r) => r.id.toLowerCase().includes(query))
          .map((r, i) => ({ id: r.id, downloads: 1000 - i, likes: 7, lastModified: '2026-11-01T00:00:00.000Z', siblings: r.files.map((rfilename) => ({ rfilename })) })),
      )
    }
    if (parts[0] === 'api' && parts[1] === 'models') {
      const apiRepo = `${parts[2]}/${parts[3]}`
      if (apiRepo !== repo) return json(res, 404, { error: 'Repository not found' })
      if (parts[4] === 'revision') return json(res, 200, { id: repo, sha: commit })
      if (parts[4] === 'tree') {
        const pageSize = options.pageSize ?? tree.length
        const cursor = Number(url.searchParams.get('cursor') ?? 0)
        const page = tree.slice(cursor, cursor + pageSize)
        if (cursor + pageSize < tree.length) {
          const next = new URL(url)
          next.searchParams.set('cursor', String(cursor + pageSize))
          res.setHeader('link', `<${next.pathname}${next.search}>; rel="next"`)
        }
        return json(res, 200, page)
      }
    }

    if (repoMatches && parts[2] === 'resolve') {
      const rel = parts.slice(4).join('/')
      requests.push(requestOf(req, url))
      const file = files.get(rel)
      if (parts[3] !== commit && parts[3] !== 'main') return json(res, 404, { error: 'Revision not found' })
      if (!file || missingFiles.has(rel)) return json(res, 404, { error: 'Entry not found' })
      if (!file.lfs) return sendContent(req, res, rel, file)
      res.writeHead(302, {
        location: `${options.cdn ?? ''}/cdn/${encodeURIComponent(rel)}`,
        'x-repo-commit': commit,
        'x-linked-size': String(file.content.length),
        'x-linked-etag': `"${file.sha256}"`,
      })
      return res.end()
    }

    if (parts[0] === 'cdn' && parts[1]) {
      const rel = parts[1]
      requests.push(requestOf(req, url))
      const file = files.get(rel)
      if (!file) return json(res, 404, { error: 'no such object' })
      return sendContent(req, res, rel, file)
    }
    json(res, 404, { error: 'not found' })
  })

  function sendContent(req: http.IncomingMessage, res: http.ServerResponse, rel: string, file: Served): void {
    let content = file.content
    if (corrupted.has(rel)) {
      content = Buffer.from(content)
      content[content.length >> 1] = (content[content.length >> 1] ?? 0) ^ 0xff
    }
    const etag = `"${file.sha256}"`
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    const ifRange = req.headers['if-range']
    let start = 0
    if (range && (!ifRange || ifRange === etag)) {
      start = Number(range[1])
      if (start >= content.length) {
        res.writeHead(416, { 'content-range': `bytes */${content.length}` })
        return void res.end()
      }
      res.writeHead(206, {
        etag,
        'accept-ranges': 'bytes',
        'content-length': String(content.length - start),
        'content-range': `bytes ${start}-${content.length - 1}/${content.length}`,
      })
    } else {
      res.writeHead(200, { etag, 'accept-ranges': 'bytes', 'content-length': String(content.length) })
    }
    const body = content.subarray(start)
    const cut = cuts.get(rel)
    const hold = holds.get(rel)
    if (cut) {
      if (--cut.times <= 0) cuts.delete(rel)
      res.write(body.subarray(0, cut.bytes), () => res.socket?.destroy())
    } else if (hold) {
      holds.delete(rel)
      res.write(body.subarray(0, hold.bytes), () => hold.reached())
    } else {
      res.end(body)
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    repo,
    commit,
    requests,
    cut: (file, bytes, times = 1) => void (times > 0 ? cuts.set(file, { bytes, times }) : cuts.delete(file)),
    holdOnce: (file, bytes) => new Promise<void>((reached) => holds.set(file, { bytes, reached })),
    corrupt: (file, on) => void (on ? corrupted.add(file) : corrupted.delete(file)),
    missing: (file, on) => void (on ? missingFiles.add(file) : missingFiles.delete(file)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export interface TestServer {
  endpoint: string
  /** Every request, in order, with the Authorization header it carried. */
  requests: Array<{ url: string; authorization: string | null }>
  /** Resolves once a request has arrived. */
  received(): Promise<void>
  close(): Promise<void>
}

/**
 * An HTTP server on 127.0.0.1 answering with `handle`; one that never answers (`() => {}`)
 * is a hub that accepts connections and then stalls.
 */
export async function startServer(
  handle: (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void,
): Promise<TestServer> {
  const requests: TestServer['requests'] = []
  let arrived!: () => void
  const first = new Promise<void>((resolve) => (arrived = resolve))
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    requests.push({ url: url.pathname + url.search, authorization: req.headers.authorization ?? null })
    arrived()
    handle(req, res, url)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    received: () => first,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

function requestOf(req: http.IncomingMessage, url: URL): FakeHub['requests'][number] {
  return { url: url.pathname, range: req.headers.range ?? null, authorization: req.headers.authorization ?? null }
}

export function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name
    if (entry.isDirectory()) out.push(...(await walk(path.join(dir, entry.name), rel)))
    else out.push(rel)
  }
  return out.sort()
}
