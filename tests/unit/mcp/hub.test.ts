// McpHub against a real stdio MCP server (tests/mcp/test-server.ts): start, list, call, time out,
// cancel, crash, a server that never starts, and config changes.

import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { describe, it, type TestContext } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import type { McpServerConfig, ToolServerStatus } from '../../../src-shared/types.ts'
import { McpHub } from '../../../src-main/mcp/hub.ts'
import { testServer } from '../../mcp/servers.ts'
import { testMcpServer } from '../../mcp/test-tools.ts'

function hub(t: TestContext): { hub: McpHub; changes: ToolServerStatus[][] } {
  const changes: ToolServerStatus[][] = []
  const h = new McpHub({ client: { name: 'hearth-test', version: '0' }, onChange: (s) => changes.push(s) })
  t.after(() => h.close())
  return { hub: h, changes }
}

const call = (h: McpHub, server: string, tool: string, args: Record<string, unknown>, timeoutMs = 20_000, signal = new AbortController().signal) =>
  h.call(server, tool, args, { timeoutMs, signal })

const code = (expected: string, pattern?: RegExp) => (err: unknown) =>
  err instanceof AppError && err.code === expected && (pattern === undefined || pattern.test(err.message))

describe('McpHub', () => {
  it('starts a stdio server, lists its tools with their schemas, and calls them', async (t) => {
    const { hub: h, changes } = hub(t)
    await h.apply({ calc: testServer() })
    const offered = await h.offered(['calc'])
    assert.deepEqual(offered.definitions.map((d) => d.name).sort(), ['add', 'crash', 'lookup', 'repeat', 'sleep'])
    const add = offered.definitions.find((d) => d.name === 'add')
    assert.equal(add?.description, 'Adds two numbers.')
    assert.deepEqual(Object.keys((add?.parameters as { properties: object }).properties), ['a', 'b'])
    assert.deepEqual(await call(h, 'calc', 'add', { a: 2, b: 40 }), { text: '42', isError: false })
    assert.deepEqual(await call(h, 'calc', 'lookup', { key: 'atlantis' }), { text: 'No capital known for "atlantis".', isError: true })
    assert.deepEqual(changes.at(-1)?.map((s) => [s.name, s.state, s.transport]), [['calc', 'ready', 'stdio']])
    assert.equal(changes[0]?.[0]?.state, 'starting')
  })

  it('talks to a streamable HTTP server with the headers given, and says when they are refused', async (t) => {
    const url = await httpServer(t, 'secret')
    const { hub: h } = hub(t)
    await h.apply({ web: { url, headers: { Authorization: 'Bearer secret' } }, refused: { url, headers: { Authorization: 'Bearer wrong' } } })
    const offered = await h.offered(['web', 'refused'])
    assert.ok(offered.route.has('lookup'))
    assert.deepEqual(await call(h, 'web', 'lookup', { key: 'france' }), { text: 'Paris', isError: false })
    assert.deepEqual(h.status().map((s) => [s.name, s.transport, s.state]), [['web', 'http', 'ready'], ['refused', 'http', 'failed']])
    assert.match(offered.missing[0]?.reason ?? '', /refused the request \(HTTP 401\)/)
  })

  it('ends a call past its timeout, and one that is cancelled, and the server keeps working', async (t) => {
    const { hub: h } = hub(t)
    await h.apply({ calc: testServer() })
    await assert.rejects(call(h, 'calc', 'sleep', { ms: 30_000 }, 300), code('TOOL_TIMEOUT', /"sleep" did not answer within 0\.3 seconds/))
    const abort = new AbortController()
    const cancelled = call(h, 'calc', 'sleep', { ms: 30_000 }, 60_000, abort.signal)
    abort.abort()
    await assert.rejects(cancelled, code('CANCELLED'))
    assert.deepEqual(await call(h, 'calc', 'add', { a: 1, b: 1 }), { text: '2', isError: false })
  })

  it('says a server that crashed mid-call failed, with its last words, and offers its tools no more', async (t) => {
    const { hub: h } = hub(t)
    await h.apply({ calc: testServer() })
    await assert.rejects(call(h, 'calc', 'crash', {}), code('TOOL_FAILED'))
    const status = await waitFor(h, (s) => s[0]?.state === 'failed')
    assert.match(status[0]?.error ?? '', /crashing as asked/)
    const offered = await h.offered(['calc'])
    assert.deepEqual(offered.definitions, [])
    assert.match(offered.missing[0]?.reason ?? '', /crashing as asked/)
    // Restarted, it works again.
    assert.equal((await h.restart('calc')).state, 'ready')
    assert.deepEqual(await call(h, 'calc', 'add', { a: 3, b: 4 }), { text: '7', isError: false })
  })

  it('reports a server that exits at start with what it wrote, and a command that does not exist', async (t) => {
    const { hub: h } = hub(t)
    await h.apply({ broken: testServer('--fail-start'), missing: { command: 'hearth-no-such-command-here' } })
    const offered = await h.offered(['broken', 'missing'])
    assert.deepEqual(offered.definitions, [])
    const byName = Object.fromEntries(h.status().map((s) => [s.name, s]))
    assert.equal(byName['broken']?.state, 'failed')
    assert.match(byName['broken']?.error ?? '', /no configuration given/)
    assert.match(byName['missing']?.error ?? '', /hearth-no-such-command-here/)
    await assert.rejects(call(h, 'broken', 'add', { a: 1, b: 2 }), code('TOOL_FAILED', /not running/))
  })

  it('applies config changes: keeps unchanged servers, stops removed ones, holds disabled ones', async (t) => {
    const { hub: h } = hub(t)
    const config: Record<string, McpServerConfig> = { calc: testServer(), other: testServer() }
    await h.apply(config)
    await h.offered(['calc', 'other'])
    // Two servers with the same tools: the second's names are prefixed, so each routes to one server.
    const both = await h.offered(['calc', 'other'])
    assert.deepEqual(both.route.get('add'), { server: 'calc', tool: 'add' })
    assert.deepEqual(both.route.get('other_add'), { server: 'other', tool: 'add' })
    await h.apply({ calc: config['calc']!, other: { ...config['other']!, disabled: true } })
    assert.deepEqual(h.status().map((s) => [s.name, s.state]), [['calc', 'ready'], ['other', 'disabled']])
    assert.match((await h.offered(['other'])).missing[0]?.reason ?? '', /disabled/)
    await h.apply({})
    assert.deepEqual(h.status(), [])
    await assert.rejects(call(h, 'calc', 'add', { a: 1, b: 2 }), code('TOOL_FAILED', /no longer in Settings/))
  })
})

/** The test server's tools over streamable HTTP (stateless: a server per request), requiring a bearer token. */
async function httpServer(t: TestContext, token: string): Promise<string> {
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end()
      return
    }
    let raw = ''
    req.on('data', (c: Buffer) => (raw += c.toString()))
    req.on('end', () => {
      const mcp = testMcpServer()
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
      res.on('close', () => void transport.close().then(() => mcp.close()))
      void mcp.connect(transport).then(() => transport.handleRequest(req, res, raw === '' ? undefined : JSON.parse(raw)))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`
}

async function waitFor(h: McpHub, done: (s: ToolServerStatus[]) => boolean): Promise<ToolServerStatus[]> {
  // The crash's close arrives on the transport a moment after the call fails.
  for (let i = 0; i < 200; i++) {
    const status = h.status()
    if (done(status)) return status
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return h.status()
}
