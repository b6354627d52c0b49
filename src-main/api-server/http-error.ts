// Errors of the OpenAI-compatible server, as OpenAI sends them: a status and { error: { message, type, param, code } }.

import type { ServerResponse } from 'node:http'
import { AppError, type ErrorCode } from '../../src-shared/errors.ts'

export type OpenAiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'

export interface OpenAiErrorBody {
  error: { message: string; type: OpenAiErrorType; param: string | null; code: string | null }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: OpenAiErrorType,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Extra response headers (Allow, Retry-After, WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
  }

  body(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null): HttpError =>
  new HttpError(400, 'invalid_request_error', message, code, param)

export const modelNotFound = (model: string): HttpError =>
  new HttpError(404, 'invalid_request_error', `The model '${model}' does not exist. GET /v1/models lists the models Hearth serves.`, 'model_not_found', 'model')

/** What an app error means to an HTTP client: its status, type and a code a program can test. */
const APP_ERRORS: Partial<Record<ErrorCode, [number, OpenAiErrorType, string]>> = {
  BAD_REQUEST: [400, 'invalid_request_error', 'invalid_request'],
  CONTEXT_OVERFLOW: [400, 'invalid_request_error', 'context_length_exceeded'],
  MODEL_INVALID: [400, 'invalid_request_error', 'model_invalid'],
  MODEL_UNSUPPORTED: [400, 'invalid_request_error', 'model_unsupported'],
  NOT_FOUND: [404, 'not_found_error', 'not_found'],
  UNAUTHORIZED: [401, 'authentication_error', 'invalid_api_key'],
  MODEL_TOO_BIG: [503, 'server_error', 'model_too_big'],
  MODEL_NOT_LOADED: [503, 'server_error', 'model_not_loaded'],
  ENGINE_BUSY: [503, 'server_error', 'engine_busy'],
  ENGINE_CRASHED: [500, 'server_error', 'engine_crashed'],
}

/** Any thrown value as an HttpError; what is not an AppError is a 500 that keeps its message. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err
  if (err instanceof AppError) {
    const [status, type, code] = APP_ERRORS[err.code] ?? [500, 'server_error', err.code.toLowerCase()]
    return new HttpError(status, type, err.message, code)
  }
  const message = err instanceof Error ? err.message : String(err)
  return new HttpError(500, 'server_error', `Hearth failed to answer: ${message}`, 'internal_error')
}

/** Writes the error as the whole response; a response whose headers went out is ended instead. */
export function sendError(res: ServerResponse, err: HttpError, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end()
    return
  }
  sendJson(res, err.status, err.body(), { ...headers, ...err.headers })
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value)
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  })
  res.end(body)
}
