// What a request must pass before the server looks at it: its Host (DNS rebinding), its Origin
// (CORS), its API key, and the size of its body.

import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { HttpError } from './http-error.ts'

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]'])

/**
 * On loopback the Host must name loopback and our port: a page on attacker.example that
 * rebinds its name to 127.0.0.1 still sends `Host: attacker.example`.
 */
export function checkHost(host: string | undefined, port: number): void {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host ?? '')
  const name = match?.[1]?.toLowerCase()
  const given = match?.[2] === undefined ? 80 : Number(match[2])
  if (name === undefined || !LOOPBACK_NAMES.has(name) || given !== port) {
    throw new HttpError(421, 'permission_error', `Hearth's API server answers only to 127.0.0.1:${port} or localhost:${port}, not to host '${host ?? ''}'.`, 'invalid_host')
  }
}

/**
 * CORS headers for an allowed browser origin. A request that carries any other Origin is
 * refused outright rather than answered without CORS headers: a cross-site page cannot read
 * the answer, but a "simple" POST would still have made the model run.
 */
export function corsHeaders(origin: string | undefined, allowed: readonly string[]): Record<string, string> {
  if (origin === undefined) return {}
  if (!allowed.includes(origin)) {
    throw new HttpError(403, 'permission_error', `The origin ${origin} may not call Hearth's API server. Allow it in Settings → API server.`, 'origin_not_allowed')
  }
  return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' }
}

export function preflight(res: ServerResponse, cors: Record<string, string>): void {
  res.writeHead(204, {
    ...cors,
    'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type',
    'Access-Control-Max-Age': '600',
  })
  res.end()
}

export function checkAuth(authorization: string | undefined, apiKey: string | null): void {
  if (apiKey === null) return
  const given = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim()
  if (given === undefined) {
    throw new HttpError(401, 'authentication_error', "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'; it is in Hearth's Settings → API server.", 'missing_api_key', null, { 'WWW-Authenticate': 'Bearer' })
  }
  // Hashes first: equal lengths for timingSafeEqual, and nothing about the key's length leaks.
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest()
  if (!timingSafeEqual(digest(given), digest(apiKey))) {
    throw new HttpError(401, 'authentication_error', "Incorrect API key provided. The key is in Hearth's Settings → API server.", 'invalid_api_key', null, { 'WWW-Authenticate': 'Bearer' })
  }
}

/** The body as UTF-8, refused with 413 past `limit` bytes (declared or streamed). */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = (): HttpError =>
    new HttpError(413, 'invalid_request_error', `The request body is larger than Hearth's limit of ${limit} bytes.`, 'request_too_large')
  if (Number(req.headers['content-length'] ?? 0) > limit) throw tooLarge()
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size <= limit) return void chunks.push(chunk)
      // The rest is read and dropped rather than the socket destroyed, so the client gets the 413.
      req.off('data', onData)
      req.resume()
      reject(tooLarge())
    }
    req.on('data', onData)
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.once('error', reject)
  })
}
