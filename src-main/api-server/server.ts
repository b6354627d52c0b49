// Hearth's OpenAI-compatible HTTP server: /v1/models and /v1/chat/completions for other tools,
// on loopback unless the user opts into the network (then only with an API key).

import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AppError } from '../../src-shared/errors.ts'
import type { CompletionBackend, ServedModel } from './backend.ts'
import { handleCompletion } from './completions.ts'
import { checkAuth, checkHost, corsHeaders, preflight, readBody } from './guards.ts'
import { badRequest, HttpError, modelNotFound, sendError, sendJson, toHttpError } from './http-error.ts'
import { RequestQueue } from './queue.ts'

export interface ApiServerOptions {
  backend: CompletionBackend
  /** 0: any free port. */
  port: number
  /** Listen on every interface, for other devices; refused without an apiKey. */
  network?: boolean
  /** When set, every request needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string | null
  /** Browser origins (scheme://host[:port]) whose pages may call the server. */
  allowedOrigins?: readonly string[]
  /** Default 48 MiB: a file part of MAX_DOCUMENT_BYTES (32 MiB) as base64, with the rest of the request. */
  maxBodyBytes?: number
  /** Requests that may wait for the engine; one more gets 429. Default 16. */
  maxQueue?: number
}

export interface RunningApiServer {
  /** Base URL for OpenAI clients, e.g. http://127.0.0.1:8080/v1. */
  readonly url: string
  readonly port: number
  /** The address it listens on: 127.0.0.1, or 0.0.0.0 on the network. */
  readonly address: string
  /** Requests at the engine and waiting for it. */
  queue(): { running: number; waiting: number }
  close(): Promise<void>
}

const DEFAULT_MAX_BODY = 48 * 1024 * 1024
const ROUTES: Record<string, string> = { '/v1/models': 'GET', '/v1/chat/completions': 'POST' }

export async function startApiServer(opts: ApiServerOptions): Promise<RunningApiServer> {
  const apiKey = opts.apiKey || null
  if (opts.network && apiKey === null) {
    throw new AppError('BAD_REQUEST', 'Serving the model to other devices needs an API key: set one before opening the API server to the network.')
  }
  const address = opts.network ? '0.0.0.0' : '127.0.0.1'
  const queue = new RequestQueue({ maxWaiting: opts.maxQueue ?? 16 })
  const active = new Set<AbortController>()
  const server = http.createServer()
  let port = 0

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const controller = new AbortController()
    active.add(controller)
    // The client went away before its answer was complete: stop its generation.
    res.on('close', () => {
      active.delete(controller)
      if (!res.writableFinished) controller.abort(new AppError('CANCELLED', 'The client disconnected.'))
    })
    let headers: Record<string, string> = {}
    const answer = async (): Promise<void> => {
      if (!opts.network) checkHost(req.headers.host, port)
      headers = corsHeaders(req.headers.origin, opts.allowedOrigins ?? [])
      if (req.method === 'OPTIONS') return preflight(res, headers)
      checkAuth(req.headers.authorization, apiKey)
      await route(req, res, headers, controller.signal)
    }
    answer().catch((err: unknown) => {
      if (controller.signal.aborted && !(err instanceof HttpError)) return
      const error = toHttpError(err)
      if (error.status === 413) res.setHeader('Connection', 'close')
      sendError(res, error, headers)
    })
  })

  async function route(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>, signal: AbortSignal): Promise<void> {
    const pathname = requestPath(req.url)
    const modelPath = /^\/v1\/models\/(.+)$/.exec(pathname)
    const allowed = modelPath ? 'GET' : ROUTES[pathname]
    if (allowed === undefined) {
      throw new HttpError(404, 'invalid_request_error', `Invalid URL (${req.method} ${pathname}). Hearth serves /v1/models and /v1/chat/completions.`, 'unknown_url')
    }
    if (req.method !== allowed && !(allowed === 'GET' && req.method === 'HEAD')) {
      throw new HttpError(405, 'invalid_request_error', `${req.method} is not allowed on ${pathname}; use ${allowed}.`, 'method_not_allowed', null, { Allow: allowed })
    }
    if (modelPath) {
      const id = decodePathSegment(modelPath[1] ?? '')
      const model = (await opts.backend.listModels()).find((m) => m.id === id)
      if (!model) throw modelNotFound(id)
      return sendJson(res, 200, modelObject(model), headers)
    }
    if (pathname === '/v1/models') {
      const models = await opts.backend.listModels()
      return sendJson(res, 200, { object: 'list', data: models.map(modelObject) }, headers)
    }
    const body = await readBody(req, opts.maxBodyBytes ?? DEFAULT_MAX_BODY)
    await handleCompletion({ backend: opts.backend, queue, res, headers, signal }, body)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, address, opts.port)))
    server.listen(opts.port, address, () => resolve())
  })
  // Once listening, a failure to accept a connection (EMFILE) is logged; unhandled it would end the process.
  server.on('error', (err) => console.error('API server:', err))
  port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    address,
    queue: () => ({ running: queue.running, waiting: queue.waiting }),
    async close() {
      for (const controller of active) controller.abort(new AppError('CANCELLED', 'The API server was stopped.'))
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** The request target's path; a target no URL parser takes is the client's error. */
function requestPath(target: string | undefined): string {
  const url = URL.parse(target ?? '/', 'http://localhost')
  if (url === null) throw badRequest(`The request target ${JSON.stringify(target)} is not a valid URL path.`)
  return url.pathname
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw badRequest(`The model id in the path ('${segment}') is not valid percent-encoded UTF-8.`, 'model')
  }
}

/** Why the server could not listen, as an app error the settings can show. */
function listenError(err: NodeJS.ErrnoException, address: string, port: number): AppError {
  switch (err.code) {
    case 'EADDRINUSE':
      return new AppError('CONFLICT', `Port ${port} is already in use by another program. Choose another port for the API server.`)
    case 'EACCES':
      return new AppError('BAD_REQUEST', `Port ${port} needs administrator rights on this system. Choose a port from 1024 to 65535 for the API server.`)
    default:
      return new AppError('INTERNAL', `The API server could not listen on ${address}:${port} (${err.code ?? err.message}).`)
  }
}

function modelObject(model: ServedModel): object {
  return { id: model.id, object: 'model', created: model.created, owned_by: 'hearth' }
}
