// A client of any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, another Hearth):
// its model list, and a streamed chat reply with stats measured on this side of the wire.

import { z } from 'zod'
import { AppError } from '../../src-shared/errors.ts'
import { DEFAULT_PARAMS, type GenerationParams, type GenerationStats, type PromptMessage, type StopReason, type ToolCall, type ToolDefinition } from '../../src-shared/types.ts'
import { sseData } from './sse.ts'

export interface Endpoint {
  /** Up to and including the version segment, e.g. http://host:8000/v1; no trailing slash. */
  baseUrl: string
  apiKey: string | null
}

export interface RemoteReply {
  text: string
  stats: GenerationStats
  /** The calls the reply made, when it was offered tools and called some. */
  toolCalls?: ToolCall[]
}

/** A remote that sends nothing for this long is taken for dead (model loads included). */
const IDLE_TIMEOUT_MS = 5 * 60_000
/** OpenAI's own limit on stop sequences. */
const MAX_STOPS = 4

const modelList = z.looseObject({ data: z.array(z.looseObject({ id: z.string().min(1) })) })
const chunkSchema = z.looseObject({
  choices: z
    .array(
      z.looseObject({
        delta: z
          .looseObject({
            content: z.string().nullish(),
            // Streamed piece by piece: the first piece of a call has its id and name, later ones more arguments.
            tool_calls: z
              .array(
                z.looseObject({
                  index: z.number().int().min(0).max(127),
                  id: z.string().nullish(),
                  function: z.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
                }),
              )
              .nullish(),
          })
          .nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .nullish(),
  usage: z
    .looseObject({
      prompt_tokens: z.number(),
      completion_tokens: z.number(),
      prompt_tokens_details: z.looseObject({ cached_tokens: z.number().nullish() }).nullish(),
    })
    .nullish(),
  error: z.looseObject({ message: z.string() }).nullish(),
})

/** The trimmed base URL, checked: http or https, no query or credentials. */
export function normalizeBaseUrl(input: string): string {
  let url: URL
  try {
    url = new URL(input.trim())
  } catch {
    throw new AppError('BAD_REQUEST', `"${input}" is not a URL. Enter the server's address, like http://localhost:11434/v1.`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError('BAD_REQUEST', `The server's address must start with http:// or https://, not ${url.protocol}//.`)
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new AppError('BAD_REQUEST', 'Enter the address without a user name, password, query or #fragment; the API key has its own field.')
  }
  return url.href.replace(/\/+$/, '')
}

/**
 * The model ids the server lists at `<base>/models`. An address given without its `/v1`
 * that answers 404 is tried again with it; the endpoint that answered is returned.
 */
export async function fetchModels(endpoint: Endpoint): Promise<{ endpoint: Endpoint; models: string[] }> {
  try {
    return { endpoint, models: await listAt(endpoint) }
  } catch (err) {
    const notFound = err instanceof RemoteHttpError && err.status === 404
    if (!notFound || /\/v\d+$/.test(endpoint.baseUrl)) throw toAppError(err, endpoint)
    const withVersion = { ...endpoint, baseUrl: `${endpoint.baseUrl}/v1` }
    return { endpoint: withVersion, models: await listAt(withVersion).catch((e: unknown) => { throw toAppError(e, withVersion) }) }
  }
}

async function listAt(endpoint: Endpoint): Promise<string[]> {
  const res = await send(endpoint, 'GET', '/models', undefined, AbortSignal.timeout(30_000))
  const text = await res.text()
  const parsed = modelList.safeParse(safeJson(text))
  if (!parsed.success) throw new RemoteGarbage(`its /models answer is not an OpenAI model list (${preview(text)})`)
  return parsed.data.data.map((m) => m.id)
}

/**
 * Streams one reply. Resolves with stopReason 'cancelled' and the text so far when `signal`
 * aborts; throws REMOTE_FAILED when the server cannot be reached, refuses, or sends garbage.
 */
export async function streamChat(
  endpoint: Endpoint,
  model: string,
  messages: PromptMessage[],
  params: Partial<GenerationParams>,
  onToken: (text: string) => void,
  signal: AbortSignal,
  tools: readonly ToolDefinition[] = [],
): Promise<RemoteReply> {
  const calls: { id: string; name: string; arguments: string }[] = []
  const started = performance.now()
  let firstAt = 0
  let lastAt = 0
  let text = ''
  let chunks = 0
  let finish: string | null = null
  let usage: z.infer<typeof chunkSchema>['usage'] = null
  const idle = new AbortController()
  let idleTimer = setTimeout(() => idle.abort(), IDLE_TIMEOUT_MS)
  const touch = (): void => {
    clearTimeout(idleTimer)
    idleTimer = setTimeout(() => idle.abort(), IDLE_TIMEOUT_MS)
  }
  try {
    const res = await send(endpoint, 'POST', '/chat/completions', requestBody(model, messages, params, tools), AbortSignal.any([signal, idle.signal]))
    if (!/^text\/event-stream/i.test(res.headers.get('content-type') ?? '')) {
      throw new RemoteGarbage(`it did not answer with an event stream (${preview(await res.text())})`)
    }
    if (!res.body) throw new RemoteGarbage('its answer had no body')
    for await (const data of sseData(chunksOf(res.body))) {
      touch()
      if (data.trim() === '[DONE]') break
      const chunk = chunkSchema.safeParse(safeJson(data))
      if (!chunk.success) throw new RemoteGarbage(`it sent an event that is not a chat completion chunk (${preview(data)})`)
      if (chunk.data.error) throw new RemoteGarbage(`it stopped with an error: ${chunk.data.error.message}`)
      usage = chunk.data.usage ?? usage
      const choice = chunk.data.choices?.[0]
      finish = choice?.finish_reason ?? finish
      for (const part of choice?.delta?.tool_calls ?? []) {
        const call = (calls[part.index] ??= { id: '', name: '', arguments: '' })
        if (part.id) call.id = part.id
        if (part.function?.name) call.name += part.function.name
        call.arguments += part.function?.arguments ?? ''
      }
      const piece = choice?.delta?.content ?? ''
      if (piece === '') continue
      lastAt = performance.now()
      if (firstAt === 0) firstAt = lastAt
      chunks++
      text += piece
      onToken(piece)
    }
    if (finish === null && !signal.aborted) throw new RemoteGarbage('the connection ended before the reply was finished')
  } catch (err) {
    if (!signal.aborted) throw toAppError(idle.signal.aborted ? new RemoteGarbage(`it sent nothing for ${IDLE_TIMEOUT_MS / 60_000} minutes`) : err, endpoint)
  } finally {
    clearTimeout(idleTimer)
  }

  const stopReason: StopReason = signal.aborted ? 'cancelled' : finish === 'length' ? 'length' : 'eos'
  // Without usage (servers that ignore stream_options) each content chunk counts as one token.
  const generated = usage?.completion_tokens ?? chunks
  const promptTokens = usage?.prompt_tokens ?? 0
  const reused = usage?.prompt_tokens_details?.cached_tokens ?? 0
  // Measured here: the wire and the remote's queue are part of the time to first token.
  const ttftMs = firstAt === 0 ? 0 : firstAt - started
  const decodeMs = lastAt - firstAt
  const toolCalls = calls
    .filter((c) => c !== undefined && c.name !== '')
    .map((c, i) => ({ id: c.id || `call_${i}`, name: c.name, arguments: c.arguments.trim() === '' ? '{}' : c.arguments }))
  return {
    text,
    ...(toolCalls.length > 0 && !signal.aborted ? { toolCalls } : {}),
    stats: {
      promptTokens,
      reusedTokens: reused,
      prefillMs: ttftMs,
      prefillTokensPerSecond: ttftMs > 0 ? ((promptTokens - reused) / ttftMs) * 1000 : 0,
      ttftMs,
      decodeTokensPerSecond: generated > 1 && decodeMs > 0 ? ((generated - 1) / decodeMs) * 1000 : 0,
      generatedTokens: generated,
      stopReason,
      provider: 'remote',
    },
  }
}

/**
 * Only the parameters every OpenAI-compatible server takes: OpenAI itself refuses unknown ones.
 * What the user did not set is left to the server, which knows its model's defaults.
 */
function requestBody(model: string, messages: PromptMessage[], params: Partial<GenerationParams>, tools: readonly ToolDefinition[]): object {
  return {
    model,
    messages: messages.map(wireMessage),
    ...(tools.length === 0
      ? {}
      : {
          tools: tools.map((t) => ({
            type: 'function',
            function: { name: t.name, ...(t.description === undefined ? {} : { description: t.description }), parameters: t.parameters ?? { type: 'object', properties: {} } },
          })),
        }),
    stream: true,
    stream_options: { include_usage: true },
    ...(params.temperature === undefined ? {} : { temperature: params.temperature }),
    ...(params.topP === undefined ? {} : { top_p: params.topP }),
    max_tokens: params.maxTokens ?? DEFAULT_PARAMS.maxTokens,
    ...(params.seed === undefined || params.seed === null ? {} : { seed: params.seed }),
    ...(params.stop === undefined || params.stop.length === 0 ? {} : { stop: params.stop.slice(0, MAX_STOPS) }),
  }
}

/** A message in the OpenAI wire format: calls as `tool_calls`, a result with its `tool_call_id`. */
function wireMessage(message: PromptMessage): object {
  if (message.role === 'tool') return { role: 'tool', tool_call_id: message.toolCallId ?? '', content: message.content }
  if (message.toolCalls === undefined || message.toolCalls.length === 0) return { role: message.role, content: message.content }
  return {
    role: message.role,
    content: message.content === '' ? null : message.content,
    tool_calls: message.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
  }
}

/** The body's chunks; leaving early cancels the body, which frees the connection. */
async function* chunksOf(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    await reader.cancel().catch(() => undefined)
  }
}

class RemoteHttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

class RemoteGarbage extends Error {}

async function send(endpoint: Endpoint, method: string, path: string, body: object | undefined, signal: AbortSignal): Promise<Response> {
  const res = await fetch(`${endpoint.baseUrl}${path}`, {
    method,
    headers: {
      Accept: body === undefined ? 'application/json' : 'text/event-stream',
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(endpoint.apiKey ? { Authorization: `Bearer ${endpoint.apiKey}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal,
    redirect: 'error',
  })
  if (res.ok) return res
  const text = await res.text().catch(() => '')
  const message = z.looseObject({ error: z.looseObject({ message: z.string() }) }).safeParse(safeJson(text))
  throw new RemoteHttpError(res.status, message.success ? message.data.error.message : preview(text) || res.statusText)
}

function toAppError(err: unknown, endpoint: Endpoint): AppError {
  if (err instanceof AppError) return err
  const where = endpoint.baseUrl
  if (err instanceof RemoteHttpError) {
    const why = err.status === 401 || err.status === 403 ? 'refused the API key' : `answered ${err.status}`
    return new AppError('REMOTE_FAILED', `The server at ${where} ${why}: ${err.message}`)
  }
  if (err instanceof RemoteGarbage) {
    return new AppError('REMOTE_FAILED', `The server at ${where} is not speaking the OpenAI API as expected: ${err.message}.`)
  }
  const cause = (err as { cause?: { code?: string; message?: string } }).cause
  const reason =
    cause?.code === 'ECONNREFUSED' ? 'nothing is listening there (connection refused)'
    : cause?.code === 'ENOTFOUND' ? 'the host name does not resolve'
    : err instanceof Error && err.name === 'TimeoutError' ? 'it did not answer in time'
    : cause?.message ?? (err instanceof Error ? err.message : String(err))
  return new AppError('REMOTE_FAILED', `Could not reach the server at ${where}: ${reason}.`)
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat
}
