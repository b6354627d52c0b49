// Shared by the API server tests: a scripted backend and raw HTTP requests with any headers.

import http from 'node:http'
import { DEFAULT_PARAMS, type ChatMessage, type GenerationParams, type GenerationStats } from '../../../src-shared/types.ts'
import type { CompletionBackend, CompletionOptions, Generated } from '../../../src-main/api-server/backend.ts'

export interface Call {
  model: string
  messages: ChatMessage[]
  params: GenerationParams
  signal: AbortSignal
  options: CompletionOptions | undefined
}

/** Replies with `tokens`, one per macrotask; `hold()` makes the next calls wait until released. */
export class ScriptedBackend implements CompletionBackend {
  calls: Call[] = []
  tokens = ['Hel', 'lo', '!']
  failWith: unknown = null
  /** Set: files in messages are read by it, as the app reads attachments. */
  readDocument?: (bytes: Buffer, name: string, signal: AbortSignal) => Promise<string>
  /** Set: each reply's stats say this much was drafted and accepted. */
  speculation: GenerationStats['speculation'] = undefined
  #gate: Promise<void> | null = null
  #open: () => void = () => undefined

  async listModels() {
    return [{ id: 'tiny', created: 1700000000 }]
  }

  defaultParams(): GenerationParams {
    return { ...DEFAULT_PARAMS, maxTokens: 64 }
  }

  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve))
  }

  release(): void {
    this.#gate = null
    this.#open()
  }

  async generate(
    model: string,
    messages: ChatMessage[],
    params: GenerationParams,
    onToken: (t: string) => void,
    signal: AbortSignal,
    options?: CompletionOptions,
  ): Promise<Generated> {
    this.calls.push({ model, messages, params, signal, options })
    if (this.#gate) await this.#gate
    if (this.failWith !== null) throw this.failWith
    let sent = 0
    for (const token of this.tokens.slice(0, params.maxTokens)) {
      if (signal.aborted) break
      onToken(token)
      sent++
      await new Promise((resolve) => setImmediate(resolve))
    }
    const stopReason = signal.aborted ? 'cancelled' : sent === params.maxTokens ? 'length' : 'eos'
    const speculation = this.speculation === undefined ? {} : { speculation: this.speculation }
    return { text: this.tokens.slice(0, sent).join(''), stats: { ...stats(sent, stopReason), ...speculation } }
  }
}

export function stats(generated: number, stopReason: GenerationStats['stopReason']): GenerationStats {
  return {
    promptTokens: 10,
    reusedTokens: 4,
    prefillMs: 1,
    prefillTokensPerSecond: 1,
    ttftMs: 1,
    decodeTokensPerSecond: 1,
    generatedTokens: generated,
    stopReason,
    provider: 'cpu',
  }
}

export interface RawResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** One request with exactly these headers (fetch would not let a test set Host). */
export function request(
  port: number,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers: { host: `127.0.0.1:${port}`, ...opts.headers } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

export function postJson(port: number, value: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  return request(port, 'POST', '/v1/chat/completions', {
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(value),
  })
}

export const HELLO = { model: 'tiny', messages: [{ role: 'user', content: 'Hi' }] }

export function errorOf(res: RawResponse): { message: string; type: string; param: string | null; code: string | null } {
  return (JSON.parse(res.body) as { error: { message: string; type: string; param: string | null; code: string | null } }).error
}
