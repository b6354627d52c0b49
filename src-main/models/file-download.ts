// Downloads one file into a `.part` beside its target: Range resume, retries, then verify and rename.
//
// [TAG_PART_FILES] On disk, for a target T:
//   T.part       bytes received so far, always a prefix of the expected content
//   T.part.json  sidecar: what the part must become (size, sha256 or git oid) and the server's ETag
//   T            exists only after size and hash were verified; written by one rename
// A part whose sidecar disagrees with the expected file is discarded, never appended to.

import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises'
import { AppError } from '../../src-shared/errors.ts'
import { causeCode, statusError, type HubClient, type HubFile } from './hub.ts'

/** File system access a download needs; tests substitute a full disk. */
export interface DownloadIo {
  /** Bytes an unprivileged process may still write on the file system holding `dir`. */
  freeBytes(dir: string): Promise<number>
  openAppend(file: string): Promise<PartWriter>
}

export interface PartWriter {
  write(chunk: Uint8Array): Promise<void>
  /** Flushes to the disk, so a verified part survives a power cut before its rename. */
  sync(): Promise<void>
  close(): Promise<void>
}

export const nodeIo: DownloadIo = {
  async freeBytes(dir) {
    const s = await statfs(dir)
    return s.bavail * s.bsize
  },
  async openAppend(file) {
    const handle = await open(file, 'a')
    return {
      write: async (chunk) => {
        await handle.write(chunk)
      },
      sync: () => handle.sync(),
      close: () => handle.close(),
    }
  },
}

export interface FileDownload {
  url: string
  file: HubFile
  /** Absolute path the verified file gets. */
  target: string
  /** The hub's request: it decides which hops carry credentials [TAG_HUB_CREDENTIALS]. */
  request: HubClient['request']
  io: DownloadIo
  signal: AbortSignal
  /** Bytes received; negative when the server ignored Range and the file restarts from zero. */
  onBytes(delta: number): void
  /** Bytes already on disk from an earlier attempt (a part, or the finished file). */
  onExisting(bytes: number): void
  /** Failed attempts in a row without new bytes before giving up. */
  retries?: number
  /** Delay before retry n (1-based); tests pass 0. */
  retryDelayMs?: (attempt: number) => number
  /** Abort an attempt that receives nothing for this long, response headers included. */
  stallMs?: number
}

interface Sidecar {
  size: number
  sha256: string | null
  gitOid: string | null
  etag: string | null
}

const DEFAULT_RETRIES = 5
const DEFAULT_STALL_MS = 60_000

/** Resolves when `target` holds the verified file; throws AppError (CANCELLED when aborted). */
export async function downloadFile(job: FileDownload): Promise<void> {
  const { file, target } = job
  const part = `${target}.part`
  const sidecarPath = `${part}.json`

  const done = await stat(target).catch(() => null)
  if (done?.isFile() && done.size === file.size) {
    job.onExisting(file.size)
    return
  }

  let sidecar = await readSidecar(sidecarPath)
  let have = (await stat(part).catch(() => null))?.size ?? 0
  if (!sidecar || !sameContent(sidecar, file) || have > file.size) {
    await rm(part, { force: true })
    sidecar = { size: file.size, sha256: file.sha256, gitOid: file.gitOid, etag: null }
    await writeSidecar(sidecarPath, sidecar)
    have = 0
  }
  const state: PartState = { part, sidecarPath, sidecar, have, hash: new ContentHash(file) }
  if (have > 0) await state.hash.updateFromFile(part)
  job.onExisting(have)

  let failures = 0
  while (state.have < file.size) {
    if (job.signal.aborted) throw cancelled(file.path)
    const before = state.have
    try {
      await transfer(job, state)
      if (state.have < file.size) {
        throw new AppError('DOWNLOAD_FAILED', `The connection closed early while downloading ${file.path}`)
      }
    } catch (err) {
      if (job.signal.aborted) throw cancelled(file.path)
      if (causeCode(err) === 'ENOSPC') throw diskFull(target)
      if (!isRetryable(err)) throw err
      failures = state.have > before ? 1 : failures + 1
      if (failures > (job.retries ?? DEFAULT_RETRIES)) throw asAppError(err, file.path, failures)
      const wait = job.retryDelayMs?.(failures) ?? Math.min(30_000, 500 * 2 ** (failures - 1))
      await delay(wait, job.signal).catch(() => {
        throw cancelled(file.path)
      })
    }
  }

  const digest = state.hash.digest()
  const expected = file.sha256 ?? file.gitOid
  if (expected && digest !== expected) {
    // A part with a wrong hash cannot be repaired by resuming: where it went wrong is unknown.
    await rm(part, { force: true })
    await rm(sidecarPath, { force: true })
    throw new AppError(
      'DOWNLOAD_CORRUPT',
      `${file.path} failed verification: expected ${file.sha256 ? 'sha256' : 'git oid'} ${expected}, got ${digest}. The damaged file was deleted; downloading again starts it over.`,
    )
  }
  await rename(part, target)
  await rm(sidecarPath, { force: true })
}

interface PartState {
  part: string
  sidecarPath: string
  sidecar: Sidecar
  /** Bytes in the part; kept current while a transfer runs, so a failed one still counts. */
  have: number
  hash: ContentHash
}

/** One HTTP request appending to the part from `state.have`. */
async function transfer(job: FileDownload, state: PartState): Promise<void> {
  const { file } = job
  const stallMs = job.stallMs ?? DEFAULT_STALL_MS
  const stall = new AbortController()
  const signal = AbortSignal.any([job.signal, stall.signal])
  let timer = setTimeout(() => stall.abort(), stallMs)
  const headers: Record<string, string> = {}
  if (state.have > 0) {
    headers.range = `bytes=${state.have}-`
    // If the server's copy changed since the part began, If-Range makes it send all of it (200).
    // Only a strong ETag may be used; a weak one would make every resume start over.
    const etag = state.sidecar.etag
    if (etag && !etag.startsWith('W/')) headers['if-range'] = etag
  }
  try {
    const res = await job.request(job.url, { headers, signal })
    if (res.status === 200 && state.have > 0) {
      await rm(state.part, { force: true })
      job.onBytes(-state.have)
      state.have = 0
      state.hash = new ContentHash(file)
    } else if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1]
      if (Number(start) !== state.have) {
        await res.body?.cancel()
        throw new AppError('DOWNLOAD_FAILED', `The server resumed ${file.path} at byte ${start ?? '?'} instead of ${state.have}`)
      }
    } else if (!res.ok) {
      await res.body?.cancel()
      throw statusError(res.status, file.path)
    }
    const etag = res.headers.get('x-linked-etag') ?? res.headers.get('etag')
    if (etag !== state.sidecar.etag) {
      state.sidecar.etag = etag
      await writeSidecar(state.sidecarPath, state.sidecar)
    }
    if (!res.body) throw new AppError('DOWNLOAD_FAILED', `The server sent no body for ${file.path}`)

    const writer = await job.io.openAppend(state.part)
    try {
      // Node's web ReadableStream is async-iterable; the DOM lib's type does not declare it.
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(timer)
        timer = setTimeout(() => stall.abort(), stallMs)
        if (state.have + chunk.byteLength > file.size) {
          await rm(state.part, { force: true })
          await rm(state.sidecarPath, { force: true })
          throw new AppError('DOWNLOAD_CORRUPT', `${file.path} is longer than the ${file.size} bytes the hub lists; the file was deleted`)
        }
        await writer.write(chunk)
        state.hash.update(chunk)
        state.have += chunk.byteLength
        job.onBytes(chunk.byteLength)
      }
      await writer.sync()
    } finally {
      await writer.close()
    }
  } catch (err) {
    if (stall.signal.aborted && !job.signal.aborted) {
      throw new AppError('DOWNLOAD_FAILED', `No data arrived for ${file.path} in ${stallMs / 1000} s`)
    }
    throw err
  } finally {
    clearTimeout(timer)
  }
}

/** Network failures, early closes, stalls and 5xx answers are worth another attempt; 4xx are not. */
function isRetryable(err: unknown): boolean {
  if (err instanceof AppError) {
    if (err.code === 'HUB_UNREACHABLE') return true
    return err.code === 'DOWNLOAD_FAILED' && !/HTTP 4\d\d/.test(err.message)
  }
  // undici reports a connection cut mid-body as TypeError('terminated') with a socket cause.
  return err instanceof TypeError || causeCode(err) !== undefined
}

/** The last error of a file that kept failing, as an AppError naming the file. */
function asAppError(err: unknown, file: string, attempts: number): AppError {
  if (err instanceof AppError) return err
  const cause = causeCode(err) ?? (err instanceof Error ? err.message : String(err))
  return new AppError('DOWNLOAD_FAILED', `Downloading ${file} failed ${attempts} times in a row (${cause}); downloading again resumes it`)
}

/** What the Hub lists for a file: sha256 for LFS content, else the git blob id. */
class ContentHash {
  private readonly hash: Hash
  constructor(file: HubFile) {
    if (file.sha256) {
      this.hash = createHash('sha256')
    } else {
      // A git blob id is sha1 over "blob <size>\0" followed by the content.
      this.hash = createHash('sha1')
      this.hash.update(`blob ${file.size}\0`)
    }
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk)
  }

  async updateFromFile(file: string): Promise<void> {
    for await (const chunk of createReadStream(file)) this.hash.update(chunk as Buffer)
  }

  digest(): string {
    return this.hash.digest('hex')
  }
}

function sameContent(sidecar: Sidecar, file: HubFile): boolean {
  return sidecar.size === file.size && sidecar.sha256 === file.sha256 && sidecar.gitOid === file.gitOid
}

async function readSidecar(file: string): Promise<Sidecar | null> {
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as Partial<Sidecar>
    if (typeof value.size !== 'number') return null
    return {
      size: value.size,
      sha256: typeof value.sha256 === 'string' ? value.sha256 : null,
      gitOid: typeof value.gitOid === 'string' ? value.gitOid : null,
      etag: typeof value.etag === 'string' ? value.etag : null,
    }
  } catch {
    return null
  }
}

async function writeSidecar(file: string, sidecar: Sidecar): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(sidecar))
  await rename(`${file}.tmp`, file)
}

function cancelled(file: string): AppError {
  return new AppError('CANCELLED', `The download was cancelled during ${file}`)
}

export function diskFull(target: string): AppError {
  return new AppError('DISK_FULL', `The disk is full while writing ${target}. Free some space and download again: it resumes where it stopped.`)
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return signal.aborted ? Promise.reject(signal.reason) : Promise.resolve()
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => {
      clearTimeout(t)
      reject(signal.reason)
    }, { once: true })
  })
}
