// The soak's OpenAI API clients: chat completions, streaming and not, one after another per
// client, some abandoned part way; every answer must be one the API documents.

import { count, sleep } from './soak-chat.ts'

export interface ApiTally {
  requests: number
  /** Whole answers: a 200 body, or a stream that ended with [DONE]. */
  completed: number
  streamed: number
  /** Answers with an OpenAI error (429 queue full, 500 engine_crashed mid-stream or before), by code. */
  errors: Record<string, number>
  /** Requests this side abandoned. */
  aborted: number
  completionChars: number
  /** Answers outside the contract: malformed, cut off, an internal error. */
  violations: string[]
}

export function emptyApiTally(): ApiTally {
  return { requests: 0, completed: 0, streamed: 0, errors: {}, aborted: 0, completionChars: 0, violations: [] }
}

export interface ApiLoad {
  apiUrl: string
  model: string
  tally: ApiTally
  rng: () => number
  running: () => boolean
  abortChance: number
}

/** Errors a soak may see: the queue full, an engine killed under the request. */
const EXPECTED_CODES = new Set(['queue_full', 'engine_crashed'])

interface ChatCompletion {
  choices?: { message?: { content?: unknown }; delta?: { content?: unknown }; finish_reason?: unknown }[]
  usage?: { completion_tokens?: unknown } | null
  error?: { code?: unknown }
}

/** A request that got no answer at all: the server is gone, and this client stops. */
const NO_ANSWER = 'no_answer'

/** One client's requests until the load ends or the server stops answering. */
export async function runApiClient(load: ApiLoad): Promise<void> {
  while (load.running()) {
    const code = await request(load)
    if (code === NO_ANSWER) return
    if (code === 'queue_full') await sleep(250)
  }
}

/** Sends one request and checks its answer; returns the error code it got, if any, or NO_ANSWER. */
async function request(load: ApiLoad): Promise<string | null> {
  const { rng, tally } = load
  const stream = rng() < 0.6
  const maxTokens = 8 + Math.floor(rng() * 88)
  const body = {
    model: load.model,
    stream,
    max_tokens: maxTokens,
    ...(stream && rng() < 0.5 ? { stream_options: { include_usage: true } } : {}),
    messages: [
      { role: 'user', content: `question ${Math.floor(rng() * 1e6)}: why is the sky blue?` },
      ...(rng() < 0.5 ? [{ role: 'assistant', content: 'Rayleigh scattering.' }, { role: 'user', content: 'Say more 🙂' }] : []),
    ],
  }
  const controller = new AbortController()
  const abortAfter = rng() < load.abortChance ? rng() * 1500 : null
  const timer = abortAfter === null ? undefined : setTimeout(() => controller.abort(), abortAfter)
  tally.requests += 1
  const what = `${stream ? 'streaming' : 'whole'} completion`
  try {
    const res = await fetch(`${load.apiUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: controller.signal,
    })
    const text = await res.text()
    if (res.status !== 200) return answeredError(tally, what, res.status, text, res.headers.get('retry-after'))
    if (stream) return checkStream(tally, text, maxTokens)
    checkWhole(tally, text, maxTokens)
  } catch (err) {
    if (controller.signal.aborted) {
      tally.aborted += 1
    } else {
      const cause = (err as Error).cause
      tally.violations.push(`${what}: no answer: ${(err as Error).message}${cause instanceof Error ? ` (${cause.message})` : ''}`)
      return NO_ANSWER
    }
  } finally {
    clearTimeout(timer)
  }
  return null
}

function answeredError(tally: ApiTally, what: string, status: number, text: string, retryAfter: string | null): string | null {
  const code = parse(text)?.error?.code
  if (typeof code !== 'string') {
    tally.violations.push(`${what}: HTTP ${status} without an OpenAI error body: ${text.slice(0, 200)}`)
    return null
  }
  count(tally.errors, code)
  if (!EXPECTED_CODES.has(code)) tally.violations.push(`${what}: HTTP ${status} ${code}: ${text.slice(0, 300)}`)
  if (code === 'queue_full' && (status !== 429 || retryAfter === null)) tally.violations.push(`${what}: queue_full as HTTP ${status}, Retry-After ${retryAfter}`)
  return code
}

/** A whole answer: a message's content and usage within max_tokens. */
export function checkWhole(tally: ApiTally, text: string, maxTokens: number): void {
  const body = parse(text)
  const content = body?.choices?.[0]?.message?.content
  const tokens = body?.usage?.completion_tokens
  if (typeof content !== 'string' || typeof tokens !== 'number' || tokens > maxTokens) {
    return void tally.violations.push(`whole completion: unexpected body ${text.slice(0, 300)}`)
  }
  tally.completed += 1
  tally.completionChars += content.length
}

/**
 * Server-sent events: chunks, then a finish_reason, usage if asked, and [DONE]; or an error event
 * last. Returns the error's code, if one came.
 */
export function checkStream(tally: ApiTally, text: string, maxTokens: number): string | null {
  const events = text.split('\n\n').filter((e) => e.length > 0)
  let content = ''
  let finished = false
  for (const [i, event] of events.entries()) {
    const data = event.startsWith('data: ') ? event.slice(6) : null
    const last = i === events.length - 1
    if (data === '[DONE]') {
      if (!last || !finished) tally.violations.push(`streaming completion: [DONE] ${last ? 'without a finish_reason' : 'before the end'}`)
      else {
        tally.completed += 1
        tally.streamed += 1
        tally.completionChars += content.length
      }
      return null
    }
    const chunk = data === null ? null : parse(data)
    if (chunk === null) {
      tally.violations.push(`streaming completion: not an event: ${event.slice(0, 200)}`)
      return null
    }
    if (chunk.error !== undefined) {
      const code = String(chunk.error.code)
      count(tally.errors, code)
      if (!EXPECTED_CODES.has(code) || !last) tally.violations.push(`streaming completion: error event ${data?.slice(0, 300)}${last ? '' : ' before the end'}`)
      return code
    }
    const choice = chunk.choices?.[0]
    if (typeof choice?.delta?.content === 'string') content += choice.delta.content
    if (typeof choice?.finish_reason === 'string') finished = true
    const tokens = chunk.usage?.completion_tokens
    if (typeof tokens === 'number' && tokens > maxTokens) tally.violations.push(`streaming completion: ${tokens} tokens over max_tokens ${maxTokens}`)
  }
  tally.violations.push(`streaming completion: ended after ${events.length} events without [DONE] or an error`)
  return null
}

function parse(text: string): ChatCompletion | null {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? (value as ChatCompletion) : null
  } catch {
    return null
  }
}
