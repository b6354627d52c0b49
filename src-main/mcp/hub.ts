// MCP servers: one client per server of Settings' mcpServers, started by main (never by the
// renderer), with its state, its tools and why it failed; tool calls with a timeout and a cancel.

import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import { ErrorCode, McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { AppError } from '../../src-shared/errors.ts'
import type { McpServerConfig, ToolDefinition, ToolServerStatus } from '../../src-shared/types.ts'

/** How long a server may take to start and list its tools. */
const CONNECT_TIMEOUT_MS = 30_000
/** The end of a server's stderr kept to say why it failed. */
const STDERR_KEEP = 2000

export interface McpHubOptions {
  /** Who connects: servers see it in their `initialize`. */
  client: { name: string; version: string }
  /** Every change of any server's state or tools. */
  onChange(servers: ToolServerStatus[]): void
  /** How long a server may take to start and list its tools; default 30 s. */
  connectTimeoutMs?: number
}

/** The tools of some servers as one model sees them, and which server has each. */
export interface OfferedTools {
  definitions: ToolDefinition[]
  /** By the name the model calls it: the server and the tool's own name there. */
  route: Map<string, { server: string; tool: string }>
  /** Servers named but not ready, with why: their tools are not offered. */
  missing: { server: string; reason: string }[]
}

export interface ToolResult {
  /** What the model reads: the text of each content item, in order. */
  text: string
  /** The server said the call failed (its text says how). */
  isError: boolean
}

interface Running {
  config: McpServerConfig
  status: ToolServerStatus
  client: Client | null
  /** Settles when the server is ready or has failed. */
  started: Promise<void>
  stderr: string
  /** Set by stop: a close that follows is no failure. */
  stopping: boolean
}

export class McpHub {
  readonly #options: McpHubOptions
  readonly #servers = new Map<string, Running>()

  constructor(options: McpHubOptions) {
    this.#options = options
  }

  status(): ToolServerStatus[] {
    return [...this.#servers.values()].map((s) => structuredClone(s.status))
  }

  /** Starts new servers, restarts changed ones, stops removed ones; unchanged ones run on. */
  async apply(config: Record<string, McpServerConfig>): Promise<void> {
    const stops: Promise<void>[] = []
    for (const [name, running] of this.#servers) {
      const next = config[name]
      if (next === undefined || JSON.stringify(next) !== JSON.stringify(running.config)) {
        stops.push(this.#stop(name))
      }
    }
    await Promise.all(stops)
    for (const [name, server] of Object.entries(config)) {
      if (!this.#servers.has(name)) this.#start(name, server)
    }
    this.#changed()
  }

  /** Stops the server and starts it again with the same config. */
  async restart(name: string): Promise<ToolServerStatus> {
    const running = this.#servers.get(name)
    if (running === undefined) throw new AppError('NOT_FOUND', `There is no MCP server named "${name}" in Settings.`)
    await this.#stop(name)
    this.#start(name, running.config)
    this.#changed()
    await this.#servers.get(name)?.started
    return structuredClone(this.#servers.get(name)!.status)
  }

  /**
   * The tools of the named servers, once those still starting are up. A tool whose name another
   * server already took is offered as `server_tool`, so every name routes to one server.
   */
  async offered(names: readonly string[]): Promise<OfferedTools> {
    const offered: OfferedTools = { definitions: [], route: new Map(), missing: [] }
    for (const server of names) {
      const running = this.#servers.get(server)
      if (running === undefined) {
        offered.missing.push({ server, reason: 'it is no longer in Settings' })
        continue
      }
      await running.started
      const { status } = running
      if (status.state !== 'ready') {
        offered.missing.push({ server, reason: status.state === 'disabled' ? 'it is disabled in Settings' : (status.error ?? 'it is not running') })
        continue
      }
      for (const tool of status.tools) {
        const name = offered.route.has(tool.name) ? `${server}_${tool.name}` : tool.name
        offered.route.set(name, { server, tool: tool.name })
        offered.definitions.push({ ...tool, name })
      }
    }
    return offered
  }

  /**
   * Calls a tool. Rejects with TOOL_FAILED when the server is gone, crashes or answers with a
   * protocol error, with TOOL_TIMEOUT past `timeoutMs`, with CANCELLED when `signal` aborts.
   */
  async call(server: string, tool: string, args: Record<string, unknown>, options: { timeoutMs: number; signal: AbortSignal }): Promise<ToolResult> {
    const running = this.#servers.get(server)
    if (running === undefined) throw new AppError('TOOL_FAILED', `The MCP server "${server}" is no longer in Settings.`)
    await running.started
    const client = running.client
    if (running.status.state !== 'ready' || client === null) {
      throw new AppError('TOOL_FAILED', `The MCP server "${server}" is not running: ${running.status.error ?? running.status.state}.`)
    }
    try {
      const result = await client.callTool({ name: tool, arguments: args }, undefined, {
        timeout: options.timeoutMs,
        signal: options.signal,
      })
      return { text: resultText(result), isError: result.isError === true }
    } catch (err) {
      if (options.signal.aborted) throw new AppError('CANCELLED', 'The tool call was cancelled.')
      if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) {
        throw new AppError('TOOL_TIMEOUT', `The tool "${tool}" did not answer within ${(options.timeoutMs / 1000).toLocaleString('en', { maximumFractionDigits: 1 })} seconds.`)
      }
      // A crash shows as "Connection closed"; the server's state then carries its last words.
      throw new AppError('TOOL_FAILED', `The tool "${tool}" of "${server}" failed: ${(err as Error).message}`)
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#servers.keys()].map((name) => this.#stop(name)))
  }

  #start(name: string, config: McpServerConfig): void {
    const transport: ToolServerStatus['transport'] = 'url' in config ? 'http' : 'stdio'
    const running: Running = {
      config,
      status: { name, transport, state: config.disabled === true ? 'disabled' : 'starting', tools: [], error: null },
      client: null,
      started: Promise.resolve(),
      stderr: '',
      stopping: false,
    }
    this.#servers.set(name, running)
    if (config.disabled === true) return
    running.started = this.#connect(running).catch((err: unknown) => this.#failed(running, err))
  }

  async #connect(running: Running): Promise<void> {
    const { config } = running
    const client = new Client(this.#options.client)
    running.client = client
    let transport: Transport
    if ('url' in config) {
      transport = new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: config.headers ?? {} } })
    } else {
      const stdio = new StdioClientTransport({
        command: config.command,
        args: config.args ?? [],
        ...(config.env === undefined ? {} : { env: config.env }),
        ...(config.cwd === undefined ? {} : { cwd: config.cwd }),
        stderr: 'pipe',
      })
      stdio.stderr?.on('data', (chunk: Buffer) => {
        running.stderr = (running.stderr + chunk.toString()).slice(-STDERR_KEEP)
      })
      transport = stdio
    }
    // While starting, the failed connect says why (a missing command's ENOENT, say); once ready, a close is a crash.
    client.onclose = () => {
      if (running.stopping || running.status.state !== 'ready' || this.#servers.get(running.status.name) !== running) return
      this.#failed(running, new Error('the server stopped'))
    }
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      if (running.status.state !== 'ready') return
      running.status.tools = await listTools(client).catch(() => running.status.tools)
      this.#changed()
    })
    const timeoutMs = this.#options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    await client.connect(transport, { timeout: timeoutMs })
    const tools = await listTools(client, timeoutMs)
    if (running.stopping) return
    running.status = { ...running.status, state: 'ready', tools, error: null }
    this.#changed()
  }

  #failed(running: Running, err: unknown): void {
    if (running.stopping) return
    const reason = describeFailure(err, running)
    running.status = { ...running.status, state: 'failed', tools: [], error: reason }
    void running.client?.close().catch(() => undefined)
    this.#changed()
  }

  async #stop(name: string): Promise<void> {
    const running = this.#servers.get(name)
    if (running === undefined) return
    running.stopping = true
    this.#servers.delete(name)
    await running.client?.close().catch(() => undefined)
  }

  #changed(): void {
    this.#options.onChange(this.status())
  }
}

async function listTools(client: Client, timeoutMs = CONNECT_TIMEOUT_MS): Promise<ToolDefinition[]> {
  const tools: ToolDefinition[] = []
  let cursor: string | undefined
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: timeoutMs })
    for (const tool of page.tools) {
      tools.push({
        name: tool.name,
        ...(tool.description === undefined ? {} : { description: tool.description }),
        parameters: tool.inputSchema as Record<string, unknown>,
      })
    }
    cursor = page.nextCursor
  } while (cursor !== undefined)
  return tools
}

/** Each content item as text: images and other binary parts are named, not inlined. */
function resultText(result: Awaited<ReturnType<Client['callTool']>>): string {
  const content = Array.isArray(result.content) ? (result.content as Record<string, unknown>[]) : []
  const parts = content.map((item) => {
    switch (item['type']) {
      case 'text':
        return String(item['text'] ?? '')
      case 'image':
      case 'audio':
        return `[${String(item['type'])}: ${String(item['mimeType'] ?? 'unknown type')}]`
      case 'resource': {
        const resource = (item['resource'] ?? {}) as Record<string, unknown>
        return typeof resource['text'] === 'string' ? resource['text'] : `[resource: ${String(resource['uri'] ?? '')}]`
      }
      case 'resource_link':
        return `[resource: ${String(item['uri'] ?? '')}]`
      default:
        return `[${String(item['type'])}]`
    }
  })
  if (parts.length === 0 && result.structuredContent !== undefined) return JSON.stringify(result.structuredContent)
  return parts.join('\n')
}

function describeFailure(err: unknown, running: Running): string {
  const { config } = running
  const code = (err as { code?: unknown }).code
  let reason: string
  if (code === 'ENOENT' && 'command' in config) reason = `the command "${config.command}" was not found`
  else if (err instanceof StreamableHTTPError && (code === 401 || code === 403)) reason = `the server refused the request (HTTP ${code}): check its "headers"`
  else if (err instanceof StreamableHTTPError && typeof code === 'number' && code > 0) reason = `the server answered HTTP ${code}`
  else if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) reason = 'it did not answer in time'
  else if (err instanceof McpError && err.code === ErrorCode.ConnectionClosed) reason = 'it stopped before it was ready'
  else reason = err instanceof Error ? err.message : String(err)
  const stderr = running.stderr.trim()
  return stderr === '' ? reason : `${reason}. It said: ${stderr.split('\n').slice(-5).join('\n')}`
}
