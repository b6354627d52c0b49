// The remote client against Hearth's own API server (scripted backend) and against servers that
// are down, refuse, or answer garbage: every failure is a REMOTE_FAILED with a specific message.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { AppError } from '../../../src-shared/errors.ts'
import { DEFAULT_PARAMS } from '../../../src-shared/types.ts'
import { startApiServer, type RunningApiServer } from '../../../src-main/api-server/server.ts'
import { fetchModels, normalizeBaseUrl, streamChat, type Endpoint } from '../../../src-main/remote/openai-client.ts'
import { ScriptedBackend } from '../api-server/helpers.ts'

const MESSAGES = [{ role: 'user' as const, content: 'Hi' }]
const PARAMS = { ...DEFAULT_PARAMS, maxTokens: 50 }

let hearth: RunningApiServer
let backend: ScriptedBackend

before(async () => {
  backend = new ScriptedBackend()
  hearth = await startApiServer({ backend, port: 0, apiKey: 'sk-test' })
})
after(() => hearth.close())

/** A server that answers every request with `handler`. */
async function fakeServer(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

async function remoteError(run: () => Promise<unknown>): Promise<string> {
  try {
    await run()
  } catch (err) {
    assert.ok(err instanceof AppError, String(err))
    assert.equal(err.code, 'REMOTE_FAILED')
    return err.message
  }
  assert.fail('no error')
}

function chat(endpoint: Endpoint, signal = new AbortController().signal, onToken: (t: string) => void = () => undefined) {
  return streamChat(endpoint, 'tiny', MESSAGES, PARAMS, onToken, signal)
}

describe('remote client against a Hearth API server', () => {
  it('lists models, finding the /v1 an address was given without', async () => {
    const bare = hearth.url.replace(/\/v1$/, '')
    const { endpoint, models } = await fetchModels({ baseUrl: bare, apiKey: 'sk-test' })
    assert.deepEqual(models, ['tiny'])
    assert.equal(endpoint.baseUrl, hearth.url)
  })

  it('streams the reply with usage and stats measured here', async () => {
    let streamed = ''
    const reply = await chat({ baseUrl: hearth.url, apiKey: 'sk-test' }, undefined, (t) => (streamed += t))
    assert.equal(reply.text, 'Hello!')
    assert.equal(streamed, 'Hello!')
    assert.equal(reply.stats.provider, 'remote')
    assert.equal(reply.stats.stopReason, 'eos')
    assert.equal(reply.stats.generatedTokens, 3)
    assert.equal(reply.stats.promptTokens, 10)
    assert.equal(reply.stats.reusedTokens, 4)
    assert.ok(reply.stats.ttftMs > 0)
    assert.deepEqual(backend.calls.at(-1)?.params.maxTokens, 50)
  })

  it('stops when cancelled, keeping the text so far, and the server sees the disconnect', async () => {
    backend.tokens = Array.from({ length: 1000 }, (_, i) => `${i} `)
    const abort = new AbortController()
    const reply = await chat({ baseUrl: hearth.url, apiKey: 'sk-test' }, abort.signal, () => abort.abort())
    backend.tokens = ['Hel', 'lo', '!']
    assert.equal(reply.stats.stopReason, 'cancelled')
    assert.ok(reply.text.startsWith('0 '))
    const call = backend.calls.at(-1)
    while (call?.signal.aborted !== true) await new Promise((resolve) => setImmediate(resolve))
  })

  it('says the key was refused', async () => {
    const message = await remoteError(() => fetchModels({ baseUrl: hearth.url, apiKey: 'sk-wrong' }))
    assert.match(message, /refused the API key: Incorrect API key/)
  })

  it('passes on the server error for an unknown model', async () => {
    const message = await remoteError(() => streamChat({ baseUrl: hearth.url, apiKey: 'sk-test' }, 'gpt-9', MESSAGES, PARAMS, () => undefined, new AbortController().signal))
    assert.match(message, /answered 404: The model 'gpt-9' does not exist/)
  })
})

describe('remote client against broken servers', () => {
  it('says nothing listens at an address that refuses connections', async () => {
    const down = await fakeServer(() => undefined)
    await down.close()
    assert.match(await remoteError(() => fetchModels({ baseUrl: down.url, apiKey: null })), /Could not reach .*connection refused/)
    assert.match(await remoteError(() => chat({ baseUrl: down.url, apiKey: null })), /connection refused/)
  })

  it('says what was wrong with a model list or a stream that is not OpenAI-shaped', async () => {
    const cases: [http.RequestListener, RegExp][] = [
      [(_, res) => res.end('<html>hello</html>'), /not an OpenAI model list \(<html>hello<\/html>\)/],
      [(_, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: {not json\n\n'), /not a chat completion chunk/],
      [(_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[]}'), /did not answer with an event stream/],
      [(_, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'), /ended before the reply was finished/],
      [(_, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: {"error":{"message":"out of memory"}}\n\n'), /stopped with an error: out of memory/],
      [(_, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"model crashed"}}'), /answered 500: model crashed/],
    ]
    for (const [handler, expected] of cases) {
      const server = await fakeServer(handler)
      try {
        const run = expected.source.includes('model list') ? () => fetchModels({ baseUrl: server.url, apiKey: null }) : () => chat({ baseUrl: server.url, apiKey: null })
        assert.match(await remoteError(run), expected)
      } finally {
        await server.close()
      }
    }
  })

  it('accepts only http and https addresses without credentials', () => {
    assert.equal(normalizeBaseUrl(' http://localhost:11434/v1/ '), 'http://localhost:11434/v1')
    assert.throws(() => normalizeBaseUrl('localhost:8080'), /http:\/\/ or https:\/\//)
    assert.throws(() => normalizeBaseUrl('not a url'), /is not a URL/)
    assert.throws(() => normalizeBaseUrl('https://user:pw@host/v1'), /without a user name/)
  })
})

describe('remote client with tools', () => {
  it('sends tools, calls and results in the OpenAI format, and puts streamed tool_calls together', async () => {
    let body: Record<string, unknown> = {}
    const sse = (chunk: object) => `data: ${JSON.stringify(chunk)}\n\n`
    const delta = (d: object, finish: string | null = null) => sse({ choices: [{ index: 0, delta: d, finish_reason: finish }] })
    const server = await fakeServer((req, res) => {
      let raw = ''
      req.on('data', (c: Buffer) => (raw += c.toString()))
      req.on('end', () => {
        body = JSON.parse(raw) as Record<string, unknown>
        res.writeHead(200, { 'Content-Type': 'text/event-stream' })
        res.write(delta({ role: 'assistant', content: 'Checking.' }))
        res.write(delta({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'add', arguments: '' } }] }))
        res.write(delta({ tool_calls: [{ index: 0, function: { arguments: '{"a":2,' } }] }))
        res.write(delta({ tool_calls: [{ index: 0, function: { arguments: '"b":3}' } }] }))
        res.write(delta({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'lookup', arguments: '{"key":"japan"}' } }] }))
        res.write(delta({}, 'tool_calls'))
        res.end('data: [DONE]\n\n')
      })
    })
    try {
      const tools = [{ name: 'add', description: 'Adds.', parameters: { type: 'object', properties: { a: { type: 'number' } } } }, { name: 'lookup' }]
      const history = [
        { role: 'user' as const, content: 'Hi' },
        { role: 'assistant' as const, content: '', toolCalls: [{ id: 'old', name: 'add', arguments: '{"a":1,"b":1}' }] },
        { role: 'tool' as const, content: '2', toolCallId: 'old' },
      ]
      const reply = await streamChat({ baseUrl: server.url, apiKey: null }, 'm', history, PARAMS, () => undefined, new AbortController().signal, tools)
      assert.equal(reply.text, 'Checking.')
      assert.deepEqual(reply.toolCalls, [
        { id: 'call_a', name: 'add', arguments: '{"a":2,"b":3}' },
        { id: 'call_b', name: 'lookup', arguments: '{"key":"japan"}' },
      ])
      assert.deepEqual(body['tools'], [
        { type: 'function', function: { name: 'add', description: 'Adds.', parameters: tools[0]!.parameters } },
        { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } },
      ])
      assert.deepEqual(body['messages'], [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'old', type: 'function', function: { name: 'add', arguments: '{"a":1,"b":1}' } }] },
        { role: 'tool', tool_call_id: 'old', content: '2' },
      ])
      // Without tools the request names none.
      await streamChat({ baseUrl: server.url, apiKey: null }, 'm', MESSAGES, PARAMS, () => undefined, new AbortController().signal)
      assert.equal(body['tools'], undefined)
    } finally {
      await server.close()
    }
  })
})
