// The API server as a setting: started, stopped or restarted to match Settings (on/off, port)
// and its own options file (network, API key, allowed origins), and its status for the UI.

import { randomBytes } from 'node:crypto'
import { chmod, readFile, rename, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { AppError } from '../../src-shared/errors.ts'
import type { ApiServerPatch, ApiServerStatus, Settings } from '../../src-shared/types.ts'
import type { CompletionBackend } from './backend.ts'
import { startApiServer, type RunningApiServer } from './server.ts'

export interface ApiServerControlDeps {
  /** Where api-server.json (mode 0600: it holds the key) lives. */
  dataDir: string
  backend: CompletionBackend
  settings: () => Settings
  /** `serve --api [--api-port N]`: on (and on that port) for this run, whatever Settings say. */
  override?: { enabled: boolean; port?: number | undefined }
}

const optionsSchema = z.strictObject({
  network: z.boolean(),
  apiKey: z.string().nullable(),
  allowedOrigins: z.array(z.string()),
})
type Options = z.infer<typeof optionsSchema>
const DEFAULT_OPTIONS: Options = { network: false, apiKey: null, allowedOrigins: [] }

export const apiKeySchema = z.string().regex(/^[\x21-\x7e]{8,200}$/, 'must be 8 to 200 visible ASCII characters')
export const originSchema = z
  .string()
  .refine((s) => URL.canParse(s) && new URL(s).origin === s, 'must be an origin like http://localhost:3000 (no path or trailing slash)')

export class ApiServerControl {
  readonly #deps: ApiServerControlDeps
  readonly #file: string
  #options: Options | null = null
  #server: RunningApiServer | null = null
  /** What the running server was started with; a change restarts it. */
  #startedWith = ''
  #error: string | null = null
  /** Applies run one after another: two quick toggles never start two servers. */
  #queue: Promise<unknown> = Promise.resolve()

  constructor(deps: ApiServerControlDeps) {
    this.#deps = deps
    this.#file = path.join(deps.dataDir, 'api-server.json')
  }

  async status(): Promise<ApiServerStatus> {
    const options = await this.#load()
    return {
      enabled: this.#wanted().enabled,
      url: this.#server?.url ?? null,
      error: this.#error,
      network: options.network,
      networkUrls: this.#server && options.network ? networkUrls(this.#server.port) : [],
      apiKey: options.apiKey,
      allowedOrigins: [...options.allowedOrigins],
    }
  }

  async configure(patch: ApiServerPatch): Promise<ApiServerStatus> {
    const next = { ...(await this.#load()), ...patch }
    if (patch.network === true && next.apiKey === null) next.apiKey = `hearth-${randomBytes(24).toString('base64url')}`
    if (next.network && next.apiKey === null) {
      throw new AppError('BAD_REQUEST', 'The API server is open to the network, which needs an API key: turn the network off before removing the key.')
    }
    await this.#save(next)
    return this.apply()
  }

  /** Starts, stops or restarts the server to match the settings and options now. */
  apply(): Promise<ApiServerStatus> {
    const run = this.#queue.then(() => this.#apply())
    this.#queue = run.catch(() => undefined)
    return run
  }

  async close(): Promise<void> {
    await this.#queue
    await this.#stop()
  }

  async #apply(): Promise<ApiServerStatus> {
    const options = await this.#load()
    const { enabled, port } = this.#wanted()
    const signature = JSON.stringify({ port, ...options })
    if (!enabled) await this.#stop()
    else if (this.#server === null || signature !== this.#startedWith) {
      await this.#stop()
      try {
        this.#server = await startApiServer({ backend: this.#deps.backend, port, ...options })
        this.#startedWith = signature
      } catch (err) {
        this.#error = err instanceof Error ? err.message : String(err)
      }
    }
    return this.status()
  }

  async #stop(): Promise<void> {
    const server = this.#server
    this.#server = null
    this.#error = null
    await server?.close()
  }

  #wanted(): { enabled: boolean; port: number } {
    const settings = this.#deps.settings()
    const override = this.#deps.override
    return {
      enabled: override?.enabled === true || settings.apiServerEnabled,
      port: override?.port ?? settings.apiServerPort,
    }
  }

  async #load(): Promise<Options> {
    if (this.#options !== null) return this.#options
    const text = await readFile(this.#file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null
      throw fileError(err, 'read', this.#file)
    })
    let json: unknown = null
    try {
      json = text === null ? null : JSON.parse(text)
    } catch {
      // Unreadable options fall back to the safe defaults: loopback, no origins.
    }
    const parsed = optionsSchema.safeParse(json)
    this.#options = parsed.success ? parsed.data : { ...DEFAULT_OPTIONS }
    return this.#options
  }

  async #save(options: Options): Promise<void> {
    const tmp = `${this.#file}.tmp`
    try {
      await writeFile(tmp, JSON.stringify(options, null, 2), { mode: 0o600 })
      await chmod(tmp, 0o600)
      await rename(tmp, this.#file)
    } catch (err) {
      throw fileError(err as NodeJS.ErrnoException, 'write', this.#file)
    }
    this.#options = options
  }
}

/** A file system error on the options file as an app error that names the file. */
function fileError(err: NodeJS.ErrnoException, verb: 'read' | 'write', file: string): AppError {
  if (err.code === 'ENOSPC') return new AppError('DISK_FULL', `The disk is full: Hearth could not write ${file}.`)
  return new AppError('INTERNAL', `Hearth could not ${verb} ${file} (${err.code ?? err.message}).`)
}

/**
 * The server's base URL at each address other devices can reach this machine by: IPv4 and global
 * IPv6 on every interface up, loopback and link-local left out (a link-local address needs a zone).
 */
export function networkUrls(port: number, interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string[] {
  const urls: string[] = []
  for (const address of Object.values(interfaces).flat()) {
    if (address === undefined || address.internal) continue
    if (address.family === 'IPv4') urls.push(`http://${address.address}:${port}/v1`)
    else if (!address.address.toLowerCase().startsWith('fe80:')) urls.push(`http://[${address.address}]:${port}/v1`)
  }
  return urls
}
