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
  resolveCommit(repo: string, revision: string): Promise<string>
  /** Every file of the repository at that commit. */
  listFiles(repo: string, commit: string): Promise<HubFile[]>
  /** Where a file's bytes come from; it may redirect to a CDN. */
  fileUrl(repo: string, commit: string, path: string): string
  /** Headers every request carries (authorization when a token is set). */
  readonly headers: Readonly<Record<string, string>>
  readonly fetch: typeof fetch
}

export interface HubOptions {
  /** Defaults to HF_ENDPOINT, then https://huggingface.co. */
  endpoint?: string | undefined
  /** For gated or private repositories; defaults to HF_TOKEN. */
  token?: string | undefined
  fetch?: typeof fetch
}

export function createHubClient(options: HubOptions = {}): HubClient {
  const endpoint = normalizeEndpoint(options.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT)
  const token = options.token ?? process.env.HF_TOKEN
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
  const doFetch = options.fetch ?? fetch

  async function getJson(url: string, what: string): Promise<{ body: unknown; res: Response }> {
    const res = await hubFetch(doFetch, endpoint, url, { headers })
    if (!res.ok) throw statusError(res.status, what)
    try {
      return { body: await res.json(), res }
    } catch (err) {
      throw new AppError('DOWNLOAD_FAILED', `${what}: the hub sent something that is not JSON (${errMessage(err)})`)
    }
  }

  return {
    endpoint,
    headers,
    fetch: doFetch,

    async resolveCommit(repo, revision) {
      checkRepoId(repo)
      const url = `${endpoint}/api/models/${repoPath(repo)}/revision/${encodeURIComponent(revision)}`
      const { body } = await getJson(url, `Repository ${repo} (revision ${revision})`)
      const sha = isRecord(body) ? body.sha : undefined
      if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) {
        throw new AppError('DOWNLOAD_FAILED', `The hub's answer for ${repo} has no commit sha`)
      }
      return sha
    },

    async listFiles(repo, commit) {
      checkRepoId(repo)
      const files: HubFile[] = []
      let next: string | null = `${endpoint}/api/models/${repoPath(repo)}/tree/${encodeURIComponent(commit)}?recursive=true`
      // The tree API pages long listings through a Link: <...>; rel="next" header.
      while (next) {
        const { body, res } = await getJson(next, `File list of ${repo}`)
        if (!Array.isArray(body)) throw new AppError('DOWNLOAD_FAILED', `The file list of ${repo} is not an array`)
        for (const entry of body) {
          const file = toHubFile(entry)
          if (file) files.push(file)
        }
        next = nextPage(res.headers.get('link'), endpoint)
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

/**
 * fetch with network failures turned into HUB_UNREACHABLE naming the endpoint and the cause
 * (connection refused, name not found, reset). HTTP statuses are left to the caller.
 */
export async function hubFetch(
  doFetch: typeof fetch,
  endpoint: string,
  url: string,
  init: RequestInit,
): Promise<Response> {
  try {
    return await doFetch(url, { redirect: 'follow', ...init })
  } catch (err) {
    if (init.signal?.aborted) throw err
    throw unreachable(endpoint, err)
  }
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
    `Cannot reach the model hub at ${endpoint} (${why}). Check the network connection, or choose another endpoint (--endpoint or HF_ENDPOINT).`,
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

function nextPage(link: string | null, endpoint: string): string | null {
  const match = link ? /<([^>]+)>\s*;\s*rel="next"/.exec(link) : null
  if (!match?.[1]) return null
  return new URL(match[1], endpoint).toString()
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
