// The soak's server side: `npm run serve` as a child process with the API server on, the engine
// process it forks (found in the process table, killed by the chaos loop), RSS samples, and its
// database read the way the store reads it.

import { execFile, spawn, type ChildProcess } from 'node:child_process'
import type { WriteStream } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import type { MessageStatus } from '../../src-shared/types.ts'
import { decodeContent } from '../../src-main/store/content.ts'
import { DB_FILE } from '../../src-main/store/store.ts'
import type { StoredReply } from './soak-check.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** How the engine process shows in the process table: the fork of the engine's entry. */
const ENGINE_ENTRY = path.join('src-main', 'engine', 'main.')
/** Browser mode starts in seconds; tsx compiles it on the way. */
const START_TIMEOUT_MS = 60_000

export interface ServeDirs {
  dataDir: string
  modelsDir: string
}

export interface ServeChild {
  pid: number
  port: number
  token: string
  /** The OpenAI-compatible server's base URL (…/v1). */
  apiUrl: string
  process: ChildProcess
  /** Resolves with the exit code (null after a signal) once the process has ended. */
  exited: Promise<number | null>
}

/**
 * Starts browser mode as `npm run serve -- --api --api-port 0` does (without the renderer build:
 * the soak needs no page), its stdout and stderr appended to `log`.
 */
export async function startServe(dirs: ServeDirs, log: WriteStream): Promise<ServeChild> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src-main/serve/main.ts', '--port', '0', '--api', '--api-port', '0', '--data-dir', dirs.dataDir, '--models-dir', dirs.modelsDir],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.stderr!.pipe(log, { end: false })
  const lines = createInterface({ input: child.stdout! })
  const started = new Promise<{ url: string; apiUrl: string }>((resolve, reject) => {
    let url: string | null = null
    lines.on('line', (line) => {
      log.write(`${line}\n`)
      url ??= line
      const api = /^OpenAI-compatible API: (\S+)/.exec(line)
      if (api) resolve({ url, apiUrl: api[1]! })
    })
    void exited.then((code) => reject(new Error(`serve exited with ${code} before it printed its URLs`)))
  })
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`serve printed no API URL within ${START_TIMEOUT_MS / 1000} s (see the log)`)), START_TIMEOUT_MS)
  })
  let urls: { url: string; apiUrl: string }
  try {
    urls = await Promise.race([started, timeout])
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  } finally {
    clearTimeout(timer)
  }
  const { url, apiUrl } = urls
  const parsed = new URL(url)
  return { pid: child.pid!, port: Number(parsed.port), token: parsed.searchParams.get('token') ?? '', apiUrl, process: child, exited }
}

/** SIGTERM, as Ctrl-C would; resolves with the exit code, or null when it had to be killed after `graceMs`. */
export async function stopServe(server: ServeChild, graceMs = 30_000): Promise<number | null> {
  if (server.process.exitCode !== null) return server.process.exitCode
  server.process.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)))
  const code = await Promise.race([server.exited, late])
  clearTimeout(timer)
  if (code !== 'late') return code
  server.process.kill('SIGKILL')
  await server.exited
  return null
}

export interface ProcessRow {
  pid: number
  ppid: number
  rssBytes: number
  args: string
}

/** Every process, from `ps` (Linux and macOS alike). */
export async function processTable(): Promise<ProcessRow[]> {
  const { stdout } = await promisify(execFile)('ps', ['-A', '-o', 'pid=,ppid=,rss=,args='], { maxBuffer: 16 * 2 ** 20 })
  return stdout.split('\n').flatMap((line) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(line)
    return m ? [{ pid: Number(m[1]), ppid: Number(m[2]), rssBytes: Number(m[3]) * 1024, args: m[4]! }] : []
  })
}

/** The server's RSS and its engine process (null while none runs), from one look at the table. */
export function serverProcesses(table: readonly ProcessRow[], serverPid: number): { server: ProcessRow | null; engine: ProcessRow | null } {
  return {
    server: table.find((p) => p.pid === serverPid) ?? null,
    engine: table.find((p) => p.ppid === serverPid && p.args.includes(ENGINE_ENTRY)) ?? null,
  }
}

export interface StoreContents {
  /** PRAGMA quick_check's rows: ['ok'] for a sound file. */
  quickCheck: string[]
  replies: StoredReply[]
}

/**
 * Reads the database as the store's own first look does: read-only, so that a WAL a killed server
 * left behind stays for the next start to find.
 */
export function readStore(dataDir: string): StoreContents {
  const db = new Database(path.join(dataDir, DB_FILE), { readonly: true, fileMustExist: true })
  try {
    const quickCheck = (db.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check)
    const rows = db
      .prepare("SELECT id, conversation_id, status, content, content_utf16, error, stats FROM messages WHERE role = 'assistant'")
      .all() as { id: string; conversation_id: string; status: MessageStatus; content: string; content_utf16: Buffer | null; error: string | null; stats: string | null }[]
    const replies = rows.map(
      (r): StoredReply => ({
        id: r.id,
        conversationId: r.conversation_id,
        status: r.status,
        content: decodeContent(r.content, r.content_utf16),
        error: r.error,
        hasStats: r.stats !== null,
      }),
    )
    return { quickCheck, replies }
  } finally {
    db.close()
  }
}
