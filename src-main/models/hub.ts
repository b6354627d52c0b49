// Client for the Hugging Face Hub's HTTP API (or a mirror): commit, file listing, resolve URLs.

import { AppError } from '../../src-shared/errors.ts'

export const DEFAULT_ENDPOINT = 'https://huggingface.co'

/** A file in a repository at one commit, with what its content must hash to. */
export interface HubFile {
  /** Repo-relative, '/'-separated. */
  path: string
  size: number
  /** sha256 of the content, for LFS (and Xet) files. */
  sha256: string | null
  /** Git blob sha1 of the content; what the Hub lists for small non-LFS files. */
  gitOid: string | null
}

export interface HubClient {
  readonly endpoint: string
  /** The commit sha a branch, tag or sha names right now. */
  resolveCommit(repo: string, revision: string, signal?: AbortSignal): Promise<string>
  /** Every file of the repository at that commit. */
  listFiles(repo: string, commit: string, signal?: AbortSignal): Promise<HubFile[]>
  /** Where a file's bytes come from; it may redirect to a CDN. */
  fileUrl(repo: string, commit: string, path: string): string
  /**
   * A GET that follows redirects itself [TAG_HUB_CREDENTIALS]. Network failures become
   * HUB_UNREACHABLE; once `signal` has aborted, its error passes through as it is.
   */
  request(url: string, init: { headers?: Record<string, string>; signal?: AbortSignal | undefined }): Promise<Response>
}

export interface HubOptions {
  /** Defaults to HF_ENDPOINT, then https://huggingface.co. */
  endpoint?: string | undefined
  /** For gated or private repositories; defaults to HF_TOKEN. */
  token?: string | undefined
  fetch?: typeof fetch
  /** An API request (commit, file list page) not answered in full by then fails; default 30 s. */
  timeoutMs?: number | undefined
}

const DEFAULT_TIMEOUT_MS = 30_000
/** A listing longer than this is not a model repository; a hub that pages forever is refused. */
const MAX_PAGES = 100
/** One page of JSON; the Hub's largest tree pages are a few hundred KB. */
const MAX_JSON_BYTES = 32 * 1024 * 1024
const MAX_REDIRECTS = 10
const RETRY_ADVICE = 'Check the network connection, or choose another endpoint (--endpoint or HF_ENDPOINT).'

export function createHubClient(options: HubOptions = {}): HubClient {
  const endpoint = normalizeEndpoint(options.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT)
  const origin = new URL(endpoint).origin
  const token = options.token ?? process.env.HF_TOKEN
  const doFetch = options.fetch ?? fetch
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS

  // [TAG_HUB_CREDENTIALS] The token goes to the endpoint's origin only. Redirects are followed
  // here, not by fetch, so that holds whatever fetch does: once a chain leaves the origin (to a
  // CDN, or anywhere a redirect points), no later hop carries the token, even one coming back.
  const request: HubClient['request'] = async (url, init) => {
    let target = url
    let credentials = token !== undefined && token !== ''
    for (let hop = 0; ; hop++) {
      credentials &&= new URL(target).origin === origin
      const headers = credentials ? { ...init.headers, authorization: `Bearer ${token}` } : { ...init.headers }
      let res: Response
      try {
        res = await doFetch(target, { headers, signal: init.signal, redirect: 'manual' })
      } catch (err) {
        if (init.signal?.aborted) throw err
        throw unreachable(endpoint, err)
      }
      const location = res.headers.get('location')
      if (res.status < 300 || res.status > 399 || location === null) return res
      await res.body?.cancel()
      if (hop >= MAX_REDIRECTS) throw new AppError('DOWNLOAD_FAILED', `The hub redirected ${url} more than ${MAX_REDIRECTS} times`)
      const next = new URL(location, target)
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new AppError('DOWNLOAD_FAILED', `The hub redirected ${url} to a ${next.protocol} URL`)
      }
      target = next.toString()
    }
  }

  /** One API answer, whole, within timeoutMs; `signal` cancels it sooner. */
  async function getJson(url: string, what: string, signal: AbortSignal | undefined): Promise<{ body: unknown; res: Response }> {
    const timeout = new AbortController()
    const timer = setTimeout(() => timeout.abort(), timeoutMs)
    try {
      const res = await request(url, { signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal })
      if (!res.ok) {
        await res.body?.cancel()
        throw statusError(res.status, what)
      }
      const text = await readText(res, what)
      try {
        return { body: JSON.parse(text), res }
      } catch (err) {
        throw new AppError('DOWNLOAD_FAILED', `${what}: the hub sent something that is not JSON (${errMessage(err)})`)
      }
    } catch (err) {
      if (signal?.aborted) throw new AppError('CANCELLED', `Cancelled while waiting for the hub (${what})`)
      if (timeout.signal.aborted) {
        throw new AppError('HUB_UNREACHABLE', `The model hub at ${endpoint} did not answer within ${timeoutMs / 1000} s. ${RETRY_ADVICE}`)
      }
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    endpoint,
    request,

    async resolveCommit(repo, revision, signal) {
      checkRepoId(repo)
      const url = `${endpoint}/api/models/${repoPath(repo)}/revision/${encodeURIComponent(revision)}`
      const { body } = await getJson(url, `Repository ${repo} (revision ${revision})`, signal)
      const sha = isRecord(body) ? body.sha : undefined
      if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) {
        throw new AppError('DOWNLOAD_FAILED', `The hub's answer for ${repo} has no commit sha`)
      }
      return sha
    },

    async listFiles(repo, commit, signal) {
      checkRepoId(repo)
      const files: HubFile[] = []
      let next: string | null = `${endpoint}/api/models/${repoPath(repo)}/tree/${encodeURIComponent(commit)}?recursive=true`
      // The tree API pages long listings through a Link: <...>; rel="next" header.
      for (let page = 1; next; page++) {
        if (page > MAX_PAGES) throw new AppError('DOWNLOAD_FAILED', `The file list of ${repo} runs past ${MAX_PAGES} pages; Hearth stops there`)
        const { body, res } = await getJson(next, `File list of ${repo}`, signal)
        if (!Array.isArray(body)) throw new AppError('DOWNLOAD_FAILED', `The file list of ${repo} is not an array`)
        for (const entry of body) {
          const file = toHubFile(entry)
          if (file) files.push(file)
        }
        next = nextPage(res.headers.get('link'), next)
        const nextOrigin = next === null ? origin : new URL(next).origin
        if (nextOrigin !== origin) {
          throw new AppError('DOWNLOAD_FAILED', `The file list of ${repo} continues on another site (${nextOrigin}); Hearth follows pages on ${origin} only`)
        }
      }
      return files
    },

    fileUrl(repo, commit, path) {
      checkRepoId(repo)
      const encodedPath = path.split('/').map(encodeURIComponent).join('/')
      return `${endpoint}/${repoPath(repo)}/resolve/${encodeURIComponent(commit)}/${encodedPath}`
    },
  }
}

/** Repository ids are `owner/name` (or a bare legacy `name`) of letters, digits, '-', '_' and '.'. */
export function checkRepoId(repo: string): void {
  const ok = /^([\w.-]+\/)?[\w.-]+$/.test(repo) && !repo.split('/').some((s) => s === '.' || s === '..')
  if (!ok) throw new AppError('BAD_REQUEST', `"${repo}" is not a repository id (expected owner/name)`)
}

export function unreachable(endpoint: string, err: unknown): AppError {
  const code = causeCode(err)
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'host name not found'
        : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET'
          ? 'connection reset'
          : code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT'
            ? 'connection timed out'
            : rootCauseMessage(err)
  return new AppError(
    'HUB_UNREACHABLE',
    `Cannot reach the model hub at ${endpoint} (${why}). ${RETRY_ADVICE}`,
  )
}

/** An HTTP error status as a specific AppError about `what` (a repository or a file). */
export function statusError(status: number, what: string): AppError {
  if (status === 404) return new AppError('NOT_FOUND', `${what} was not found on the hub (404)`)
  if (status === 401 || status === 403) {
    return new AppError(
      'UNAUTHORIZED',
      `${what} needs an account with access (HTTP ${status}): the repository may be gated or private; set HF_TOKEN`,
    )
  }
  return new AppError('DOWNLOAD_FAILED', `${what}: the hub answered HTTP ${status}`)
}

/** The errno-like code of a failed fetch, which undici puts on `cause` (sometimes nested). */
export function causeCode(err: unknown): string | undefined {
  let current: unknown = err
  for (let depth = 0; depth < 4 && isRecord(current); depth++) {
    if (typeof current.code === 'string') return current.code
    current = current.cause
  }
  return undefined
}

/** undici's own message is "fetch failed"; the innermost cause says what happened. */
function rootCauseMessage(err: unknown): string {
  let current: unknown = err
  for (let depth = 0; depth < 4 && isRecord(current) && current.cause !== undefined; depth++) current = current.cause
  return errMessage(current)
}

function toHubFile(entry: unknown): HubFile | null {
  if (!isRecord(entry) || entry.type !== 'file') return null
  const { path, size, oid, lfs } = entry
  if (typeof path !== 'string' || typeof size !== 'number') return null
  const lfsOid = isRecord(lfs) && typeof lfs.oid === 'string' ? lfs.oid : null
  const lfsSize = isRecord(lfs) && typeof lfs.size === 'number' ? lfs.size : null
  return {
    path,
    // For LFS files `size` is the real size too, but lfs.size is the authoritative one.
    size: lfsSize ?? size,
    sha256: lfsOid && /^[0-9a-f]{64}$/.test(lfsOid) ? lfsOid : null,
    gitOid: !lfsOid && typeof oid === 'string' && /^[0-9a-f]{40}$/.test(oid) ? oid : null,
  }
}

/** The rel="next" target, resolved against the page that named it. */
function nextPage(link: string | null, page: string): string | null {
  const match = link ? /<([^>]+)>\s*;\s*rel="next"/.exec(link) : null
  if (!match?.[1]) return null
  return new URL(match[1], page).toString()
}

/** The body as text, refused past MAX_JSON_BYTES rather than held whole. */
async function readText(res: Response, what: string): Promise<string> {
  if (!res.body) return ''
  const chunks: Uint8Array[] = []
  let bytes = 0
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength
    // Throwing out of the loop cancels the stream.
    if (bytes > MAX_JSON_BYTES) throw new AppError('DOWNLOAD_FAILED', `${what}: the hub's answer runs past ${MAX_JSON_BYTES / 1024 / 1024} MiB`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function normalizeEndpoint(endpoint: string): string {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw new AppError('BAD_REQUEST', `"${endpoint}" is not a URL (expected e.g. https://huggingface.co)`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AppError('BAD_REQUEST', `The hub endpoint must be http(s), not ${url.protocol}`)
  }
  return url.toString().replace(/\/+$/, '')
}

function repoPath(repo: string): string {
  return repo.split('/').map(encodeURIComponent).join('/')
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
