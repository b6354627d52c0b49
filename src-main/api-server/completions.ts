// POST /v1/chat/completions: one reply, as one JSON object or as server-sent events ending in [DONE].

import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { GenerationStats, PromptMessage, StopReason, ToolCall } from '../../src-shared/types.ts'
import { withDocuments } from '../documents/prompt.ts'
import type { CompletionBackend, Generated } from './backend.ts'
import { badRequest, HttpError, modelNotFound, sendJson, toHttpError } from './http-error.ts'
import type { RequestQueue } from './queue.ts'
import { parseCompletionRequest, type CompletionRequest, type RequestMessage } from './request.ts'

export interface CompletionContext {
  backend: CompletionBackend
  queue: RequestQueue
  res: ServerResponse
  /** Headers every response carries (CORS). */
  headers: Record<string, string>
  /** Aborts when the client goes away or the server closes. */
  signal: AbortSignal
}

/** Prompt tokens the engine took from its KV cache instead of prefilling them again. */
export const REUSED_TOKENS_HEADER = 'x-hearth-reused-tokens'

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  prompt_tokens_details: { cached_tokens: number }
  /**
   * Speculative decoding's drafted tokens the model kept and threw away, from whatever source
   * (the request's prediction, the conversation's text, a draft model): OpenAI's Predicted
   * Outputs fields. Unlike OpenAI, rejected tokens are not added to completion_tokens.
   */
  completion_tokens_details: { accepted_prediction_tokens: number; rejected_prediction_tokens: number }
}

type FinishReason = 'stop' | 'length' | 'tool_calls'

export async function handleCompletion(ctx: CompletionContext, rawBody: string): Promise<void> {
  const request = parseCompletionRequest(rawBody)
  const models = await ctx.backend.listModels()
  if (!models.some((m) => m.id === request.model)) throw modelNotFound(request.model)

  const turn = ctx.queue.enter(ctx.signal)
  if (turn === null) {
    const retryAfter = ctx.queue.retryAfterSeconds()
    throw new HttpError(
      429,
      'rate_limit_error',
      `Hearth is busy: ${ctx.queue.waiting} requests are already waiting for the model. Retry in ${retryAfter} s.`,
      'queue_full',
      null,
      { 'Retry-After': String(retryAfter) },
    )
  }
  const release = await turn.catch(() => null)
  // The client left while waiting: its place is given up and nobody is there to answer.
  if (release === null) return
  try {
    if (request.stream) await stream(ctx, request)
    else await complete(ctx, request)
  } finally {
    release()
  }
}

async function complete(ctx: CompletionContext, request: CompletionRequest): Promise<void> {
  const result = await generate(ctx, request, () => undefined)
  if (ctx.signal.aborted) return
  sendJson(
    ctx.res,
    200,
    {
      id: completionId(),
      object: 'chat.completion',
      created: nowSeconds(),
      model: request.model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            // A reply that made calls has content only where it wrote text before them, as OpenAI's.
            content: result.toolCalls && result.text.trim() === '' ? null : result.text,
            refusal: null,
            ...(result.toolCalls ? { tool_calls: result.toolCalls.map(apiToolCall) } : {}),
          },
          logprobs: null,
          finish_reason: finishReason(result),
        },
      ],
      usage: usage(result.stats),
    },
    { ...ctx.headers, [REUSED_TOKENS_HEADER]: String(result.stats.reusedTokens) },
  )
}

/**
 * Headers go out with the first token, so that what fails before it (a model that will not
 * load, a prompt over the context) still gets its own status code.
 */
async function stream(ctx: CompletionContext, request: CompletionRequest): Promise<void> {
  const { res } = ctx
  const id = completionId()
  const created = nowSeconds()
  const chunk = (delta: object, finish: FinishReason | null): object => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: request.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(request.includeUsage ? { usage: null } : {}),
  })
  const send = (value: object | '[DONE]'): void => {
    if (!res.writableEnded) res.write(`data: ${value === '[DONE]' ? value : JSON.stringify(value)}\n\n`)
  }
  const open = (): void => {
    if (res.headersSent) return
    res.writeHead(200, {
      ...ctx.headers,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    })
    send(chunk({ role: 'assistant', content: '' }, null))
  }

  let result: Generated
  try {
    result = await generate(ctx, request, (text) => {
      open()
      send(chunk({ content: text }, null))
    })
  } catch (err) {
    if (!res.headersSent) throw err
    // Mid-stream the status is spent: the error travels as an event, as OpenAI's API does.
    send(toHttpError(err).body())
    res.end()
    return
  }
  if (ctx.signal.aborted) return
  open()
  // The calls come whole once the reply is done (the text before them has streamed): each its own delta.
  result.toolCalls?.forEach((call, index) => send(chunk({ tool_calls: [{ index, ...apiToolCall(call) }] }, null)))
  send(chunk({}, finishReason(result)))
  if (request.includeUsage) send({ id, object: 'chat.completion.chunk', created, model: request.model, choices: [], usage: usage(result.stats) })
  send('[DONE]')
  res.end()
}

async function generate(ctx: CompletionContext, request: CompletionRequest, onToken: (text: string) => void): Promise<Generated> {
  const defaults = ctx.backend.defaultParams()
  const params = { ...defaults, ...request.params }
  const options = {
    ...(request.prediction === null ? {} : { prediction: request.prediction }),
    ...(request.responseFormat === null ? {} : { responseFormat: request.responseFormat }),
    ...(request.tools.length === 0 ? {} : { tools: request.tools, toolChoice: request.toolChoice }),
  }
  const messages = await readFiles(ctx, request.messages)
  return ctx.backend.generate(request.model, messages, params, onToken, ctx.signal, options)
}

/**
 * Each message's files as documents before its text, as the app puts attachments that fit
 * ([TAG_DOCUMENT_PREFIX]): a client that sends the same file again gets its prefix from the cache.
 */
async function readFiles(ctx: CompletionContext, messages: RequestMessage[]): Promise<PromptMessage[]> {
  const out: PromptMessage[] = []
  for (const [i, m] of messages.entries()) {
    const { files, ...message } = m
    if (files.length === 0) {
      out.push(message)
      continue
    }
    const read = ctx.backend.readDocument
    if (read === undefined) throw badRequest('This server reads no files.', `messages[${i}].content`)
    const documents: { name: string; text: string }[] = []
    for (const file of files) documents.push({ name: file.name, text: await read(file.bytes, file.name, ctx.signal) })
    out.push({ ...message, content: withDocuments(m.content, documents, []) })
  }
  return out
}

function finishReason(result: Generated): FinishReason {
  if (result.toolCalls?.length) return 'tool_calls'
  return stopFinish(result.stats.stopReason)
}

function stopFinish(reason: StopReason): FinishReason {
  return reason === 'length' ? 'length' : 'stop'
}

function apiToolCall(call: ToolCall): object {
  return { id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }
}

export function usage(stats: GenerationStats): Usage {
  return {
    prompt_tokens: stats.promptTokens,
    completion_tokens: stats.generatedTokens,
    total_tokens: stats.promptTokens + stats.generatedTokens,
    prompt_tokens_details: { cached_tokens: stats.reusedTokens },
    completion_tokens_details: {
      accepted_prediction_tokens: stats.speculation?.accepted ?? 0,
      rejected_prediction_tokens: stats.speculation ? stats.speculation.drafted - stats.speculation.accepted : 0,
    },
  }
}

const completionId = (): string => `chatcmpl-${randomUUID().replaceAll('-', '')}`
const nowSeconds = (): number => Math.floor(Date.now() / 1000)
