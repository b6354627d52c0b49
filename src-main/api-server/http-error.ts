// Errors of the OpenAI-compatible server, as OpenAI sends them: a status and { error: { message, type, param, code } }.

import { randomBytes } from 'node:crypto'
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

/**
 * What each app error means to an HTTP client: its status, type and a code a program can test.
 * Every code but INTERNAL has a line, so a new one cannot reach a client unplaced.
 */
const APP_ERRORS: Record<Exclude<ErrorCode, 'INTERNAL'>, [number, OpenAiErrorType, string]> = {
  BAD_REQUEST: [400, 'invalid_request_error', 'invalid_request'],
  CONTEXT_OVERFLOW: [400, 'invalid_request_error', 'context_length_exceeded'],
  MODEL_INVALID: [400, 'invalid_request_error', 'model_invalid'],
  MODEL_UNSUPPORTED: [400, 'invalid_request_error', 'model_unsupported'],
  IMPORT_INVALID: [400, 'invalid_request_error', 'import_invalid'],
  DOCUMENT_INVALID: [400, 'invalid_request_error', 'document_invalid'],
  DOCUMENT_TOO_BIG: [413, 'invalid_request_error', 'document_too_big'],
  UNAUTHORIZED: [401, 'authentication_error', 'invalid_api_key'],
  NOT_FOUND: [404, 'not_found_error', 'not_found'],
  CONFLICT: [409, 'invalid_request_error', 'conflict'],
  ENGINE_CRASHED: [500, 'server_error', 'engine_crashed'],
  DB_CORRUPT: [500, 'server_error', 'database_corrupt'],
  DB_FROM_FUTURE: [500, 'server_error', 'database_from_future'],
  DOWNLOAD_FAILED: [502, 'server_error', 'download_failed'],
  DOWNLOAD_CORRUPT: [502, 'server_error', 'download_corrupt'],
  HUB_UNREACHABLE: [502, 'server_error', 'hub_unreachable'],
  REMOTE_FAILED: [502, 'server_error', 'remote_failed'],
  TOOL_FAILED: [502, 'server_error', 'tool_failed'],
  TOOL_TIMEOUT: [504, 'server_error', 'tool_timeout'],
  MODEL_TOO_BIG: [503, 'server_error', 'model_too_big'],
  MODEL_NOT_LOADED: [503, 'server_error', 'model_not_loaded'],
  ENGINE_BUSY: [503, 'server_error', 'engine_busy'],
  CANCELLED: [503, 'server_error', 'cancelled'],
  DISK_FULL: [507, 'server_error', 'disk_full'],
}

/**
 * Any thrown value as an HttpError. An app error keeps its message, written for people. Anything
 * else (a library's error, an INTERNAL one, a code from another process that is not Hearth's) is
 * a 500 that says nothing of the server's insides: its message and stack go to the log, with a
 * reference the answer quotes.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err
  // The code is checked at run time too: AppError.fromData takes whatever another process sent.
  if (err instanceof AppError && err.code !== 'INTERNAL' && Object.hasOwn(APP_ERRORS, err.code)) {
    const [status, type, code] = APP_ERRORS[err.code]
    return new HttpError(status, type, err.message, code)
  }
  const reference = randomBytes(4).toString('hex')
  console.error(`API server: internal error ${reference}:`, err)
  return new HttpError(500, 'server_error', `Hearth failed to answer because of an internal error (logged as ${reference}).`, 'internal_error')
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
