// The API server over raw HTTP with a scripted backend: routes, OpenAI-style errors and status
// codes, Host and Origin checks, the API key, body limit, the queue and client disconnects.

import { afterEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { AppError } from '../../../src-shared/errors.ts'
import { startApiServer, type ApiServerOptions, type RunningApiServer } from '../../../src-main/api-server/server.ts'
import { errorOf, HELLO, postJson, request, ScriptedBackend } from './helpers.ts'

let server: RunningApiServer | null = null
afterEach(async () => {
  await server?.close()
  server = null
})

async function start(backend = new ScriptedBackend(), opts: Partial<ApiServerOptions> = {}): Promise<{ port: number; backend: ScriptedBackend }> {
  server = await startApiServer({ backend, port: 0, ...opts })
  return { port: server.port, backend }
}

/** The whole response to one hand-written request line (a target http.request would refuse to send). */
function rawRequest(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(`${line}\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`))
    let response = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (response += chunk))
    socket.on('end', () => resolve(response))
    socket.on('error', reject)
  })
}

/** Resolves once `predicate` holds, checking after each turn of the event loop. */
async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setImmediate(resolve))
}

describe('API server routes', () => {
  it('lists the backend models as OpenAI model objects', async () => {
    const { port } = await start()
    const res = await request(port, 'GET', '/v1/models')
    assert.equal(res.status, 200)
    assert.deepEqual(JSON.parse(res.body), { object: 'list', data: [{ id: 'tiny', object: 'model', created: 1700000000, owned_by: 'hearth' }] })
  })

  it('answers a completion with the text, finish reason and usage', async () => {
    const { port } = await start()
    const res = await postJson(port, { ...HELLO, max_tokens: 2 })
    assert.equal(res.status, 200)
    const body = JSON.parse(res.body)
    assert.equal(body.object, 'chat.completion')
    assert.match(body.id, /^chatcmpl-/)
    assert.equal(body.choices[0].message.content, 'Hello')
    assert.equal(body.choices[0].finish_reason, 'length')
    assert.deepEqual(body.usage, {
      prompt_tokens: 10,
      completion_tokens: 2,
      total_tokens: 12,
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    })
    assert.equal(res.headers['x-hearth-reused-tokens'], '4')
  })

  it('fills what the request leaves out from the defaults and maps the rest', async () => {
    const { port, backend } = await start()
    await postJson(port, { ...HELLO, temperature: 0, top_p: 0.5, max_completion_tokens: 7, seed: 3, stop: 'x', top_k: 5, min_p: 0.1, repetition_penalty: 1.2 })
    await postJson(port, { ...HELLO, stop: ['a', 'b'], max_tokens: 9 })
    const [first, second] = backend.calls
    assert.deepEqual(first?.params, { ...backend.defaultParams(), temperature: 0, topP: 0.5, maxTokens: 7, seed: 3, stop: ['x'], topK: 5, minP: 0.1, repetitionPenalty: 1.2 })
    assert.deepEqual(second?.params, { ...backend.defaultParams(), stop: ['a', 'b'], maxTokens: 9 })
  })

  it('streams chunks as server-sent events, with a usage chunk when asked, then [DONE]', async () => {
    const { port } = await start()
    const res = await postJson(port, { ...HELLO, stream: true, stream_options: { include_usage: true } })
    assert.equal(res.status, 200)
    assert.match(String(res.headers['content-type']), /^text\/event-stream/)
    const events = res.body.split('\n\n').filter((e) => e !== '')
    assert.ok(events.every((e) => e.startsWith('data: ')))
    assert.equal(events.at(-1), 'data: [DONE]')
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)))
    assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' })
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'Hello!')
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop')
    assert.deepEqual(chunks.at(-1).choices, [])
    assert.equal(chunks.at(-1).usage.completion_tokens, 3)
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null))
  })
})

describe('API server predicted outputs', () => {
  it('gives the backend the prediction and reports drafted tokens as accepted and rejected prediction tokens', async () => {
    const { port, backend } = await start()
    backend.speculation = { drafted: 10, accepted: 7, passes: 3, sources: ['prediction', 'lookup'] }
    const res = await postJson(port, { ...HELLO, prediction: { type: 'content', content: [{ type: 'text', text: 'Hel' }, { type: 'text', text: 'lo!' }] } })
    assert.equal(res.status, 200)
    assert.deepEqual(backend.calls[0]?.options, { prediction: 'Hello!' })
    assert.deepEqual(JSON.parse(res.body).usage.completion_tokens_details, { accepted_prediction_tokens: 7, rejected_prediction_tokens: 3 })
    await postJson(port, HELLO)
    assert.deepEqual(backend.calls[1]?.options, {})
  })

  it("puts them in a stream's usage chunk too", async () => {
    const { port, backend } = await start()
    backend.speculation = { drafted: 4, accepted: 4, passes: 1, sources: ['prediction'] }
    const res = await postJson(port, { ...HELLO, stream: true, stream_options: { include_usage: true }, prediction: { type: 'content', content: 'Hello!' } })
    const chunks = res.body.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)))
    assert.deepEqual(chunks.at(-1).usage.completion_tokens_details, { accepted_prediction_tokens: 4, rejected_prediction_tokens: 0 })
  })

  it('refuses a prediction that is not of type content with 400, before the engine is asked', async () => {
    const { port, backend } = await start()
    const res = await postJson(port, { ...HELLO, prediction: { type: 'text', content: 'x' } })
    assert.equal(res.status, 400)
    assert.equal(errorOf(res).type, 'invalid_request_error')
    assert.equal(errorOf(res).param, 'prediction.type')
    assert.equal(backend.calls.length, 0)
  })
})

describe('API server errors', () => {
  it('refuses malformed JSON and invalid fields with 400, naming the parameter', async () => {
    const { port } = await start()
    const bad = await request(port, 'POST', '/v1/chat/completions', { body: '{"model": ' })
    assert.equal(bad.status, 400)
    assert.equal(errorOf(bad).type, 'invalid_request_error')
    const temperature = await postJson(port, { ...HELLO, temperature: 'hot' })
    assert.equal(temperature.status, 400)
    assert.equal(errorOf(temperature).param, 'temperature')
    const role = await postJson(port, { model: 'tiny', messages: [{ role: 'function', content: 'x' }] })
    assert.equal(errorOf(role).param, 'messages[0].role')
    const missing = await postJson(port, { model: 'tiny' })
    assert.equal(errorOf(missing).param, 'messages')
  })

  it('answers 404 model_not_found for an unknown model, and for an unknown path', async () => {
    const { port, backend } = await start()
    const res = await postJson(port, { ...HELLO, model: 'gpt-9' })
    assert.equal(res.status, 404)
    assert.equal(errorOf(res).code, 'model_not_found')
    assert.equal(errorOf(res).param, 'model')
    assert.equal((await request(port, 'GET', '/v1/models/gpt-9')).status, 404)
    assert.equal((await request(port, 'GET', '/v1/models/tiny')).status, 200)
    const path = await request(port, 'GET', '/v1/embeddings')
    assert.equal(path.status, 404)
    assert.equal(errorOf(path).code, 'unknown_url')
    assert.equal(backend.calls.length, 0)
  })

  it('answers 405 with Allow for the wrong method', async () => {
    const { port } = await start()
    const get = await request(port, 'GET', '/v1/chat/completions')
    assert.equal(get.status, 405)
    assert.equal(get.headers.allow, 'POST')
    const del = await request(port, 'DELETE', '/v1/models')
    assert.equal(del.status, 405)
    assert.equal(del.headers.allow, 'GET')
  })

  it('reads file content parts as documents before the message text, as the app puts attachments', async () => {
    const backend = new ScriptedBackend()
    const read: string[] = []
    backend.readDocument = async (bytes, name) => {
      read.push(name)
      return bytes.toString('utf8').toUpperCase()
    }
    const { port } = await start(backend)
    const file = (filename: string, text: string) => ({ type: 'file', file: { filename, file_data: `data:text/plain;base64,${Buffer.from(text).toString('base64')}` } })
    const res = await postJson(port, {
      model: 'tiny',
      messages: [{ role: 'user', content: [file('a.txt', 'first file'), { type: 'text', text: 'Compare them.' }, file('b "x".txt', 'second')] }],
    })
    assert.equal(res.status, 200, res.body)
    assert.deepEqual(read, ['a.txt', 'b "x".txt'])
    assert.equal(
      backend.calls[0]!.messages[0]!.content,
      `<document name="a.txt">\nFIRST FILE\n</document>\n\n<document name="b 'x'.txt">\nSECOND\n</document>\n\nCompare them.`,
    )
  })

  it('refuses a file part that is not a base64 data URL, in a non-user message, or to a backend that reads none', async () => {
    const backend = new ScriptedBackend()
    backend.readDocument = async (bytes) => bytes.toString('utf8')
    const { port } = await start(backend)
    const ask = (message: unknown) => postJson(port, { model: 'tiny', messages: [message] })
    const notBase64 = await ask({ role: 'user', content: [{ type: 'file', file: { filename: 'a.txt', file_data: 'data:text/plain;base64,@@@' } }] })
    assert.equal(notBase64.status, 400)
    assert.equal(errorOf(notBase64).param, 'messages[0].content[0].file.file_data')
    const byId = await ask({ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] })
    assert.equal(byId.status, 400)
    assert.match(errorOf(byId).message, /keeps no uploaded files/)
    const fromAssistant = await ask({ role: 'assistant', content: [{ type: 'file', file: { filename: 'a.txt', file_data: 'YQ==' } }] })
    assert.equal(fromAssistant.status, 400)
    assert.match(errorOf(fromAssistant).message, /Only user messages can carry files/)
    assert.equal(backend.calls.length, 0)

    await server?.close()
    const { port: plainPort } = await start(new ScriptedBackend())
    const refused = await postJson(plainPort, { model: 'tiny', messages: [{ role: 'user', content: [{ type: 'file', file: { filename: 'a.txt', file_data: 'YQ==' } }] }] })
    assert.equal(refused.status, 400)
    assert.match(errorOf(refused).message, /reads no files/)
  })

  it('answers a file that cannot be read with its document error', async () => {
    const backend = new ScriptedBackend()
    backend.readDocument = async (_bytes, name) => {
      throw new AppError('DOCUMENT_INVALID', `${name} looks like a binary file, not text.`)
    }
    const { port } = await start(backend)
    const res = await postJson(port, { model: 'tiny', messages: [{ role: 'user', content: [{ type: 'file', file: { filename: 'x.bin', file_data: 'AAEC' } }] }] })
    assert.equal(res.status, 400)
    assert.equal(errorOf(res).code, 'document_invalid')
    assert.match(errorOf(res).message, /x\.bin looks like a binary file/)
  })

  it('answers 413 for a body over the limit, declared or streamed', async () => {
    const { port, backend } = await start(undefined, { maxBodyBytes: 1000 })
    const declared = await postJson(port, { ...HELLO, messages: [{ role: 'user', content: 'x'.repeat(2000) }] })
    assert.equal(declared.status, 413)
    assert.equal(errorOf(declared).code, 'request_too_large')
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = http.request({ port, method: 'POST', path: '/v1/chat/completions', headers: { host: `127.0.0.1:${port}`, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.write('{"model":"tiny","messages":[{"role":"user","content":"')
      req.write('y'.repeat(1500))
    })
    assert.equal(streamed, 413)
    assert.equal(backend.calls.length, 0)
  })

  it('turns an app error into its status and an unexpected one into 500', async () => {
    const { port, backend } = await start()
    backend.failWith = new AppError('CONTEXT_OVERFLOW', 'The prompt is longer than the context.')
    const overflow = await postJson(port, HELLO)
    assert.equal(overflow.status, 400)
    assert.equal(errorOf(overflow).code, 'context_length_exceeded')
    assert.equal(errorOf(overflow).message, 'The prompt is longer than the context.')
    backend.failWith = new AppError('DISK_FULL', 'The disk is full.')
    const full = await postJson(port, HELLO)
    assert.equal(full.status, 507)
    assert.equal(errorOf(full).code, 'disk_full')
  })

  it('answers what is not an app error with a 500 that tells nothing of the insides, and logs it', async (t) => {
    const logged = t.mock.method(console, 'error', () => undefined)
    const { port, backend } = await start()
    const thrown = [
      new TypeError('boom at /home/user/.config/Hearth/secret.ts:12'),
      Object.assign(new Error('SQLITE_CONSTRAINT_DATATYPE: datatype mismatch'), { code: 'SQLITE_CONSTRAINT_DATATYPE' }),
      // As an engine process's foreign code arrives: AppError.fromData takes any code.
      AppError.fromData({ code: 'ERR_OUT_OF_RANGE' as never, message: 'ERR_OUT_OF_RANGE in /srv/engine.ts' }),
      AppError.fromData({ code: 'constructor' as never, message: 'a code that names a property of every object' }),
      new AppError('INTERNAL', 'expected logits for 3 positions, got 1'),
      'a thrown string',
    ]
    for (const [i, err] of thrown.entries()) {
      backend.failWith = err
      const res = await postJson(port, { ...HELLO, stream: i % 2 === 1 })
      assert.equal(res.status, 500)
      const error = errorOf(res)
      assert.deepEqual([error.type, error.code], ['server_error', 'internal_error'])
      assert.match(error.message, /^Hearth failed to answer because of an internal error \(logged as [0-9a-f]{8}\)\.$/)
      const reference = /logged as ([0-9a-f]{8})/.exec(error.message)?.[1] ?? ''
      const call = logged.mock.calls.at(-1)
      assert.ok(call && String(call.arguments[0]).includes(reference), 'the log line carries the reference')
      assert.equal(call.arguments[1], err)
    }
    assert.equal(logged.mock.callCount(), thrown.length)
  })

  it('sends a stream that fails after its first token an error event without the internal message', async (t) => {
    t.mock.method(console, 'error', () => undefined)
    const { port, backend } = await start()
    const generate = backend.generate.bind(backend)
    backend.generate = async (model, messages, params, onToken, signal, options) => {
      await generate(model, messages, { ...params, maxTokens: 1 }, onToken, signal, options)
      throw new RangeError('Array buffer allocation failed')
    }
    const res = await postJson(port, { ...HELLO, stream: true })
    assert.equal(res.status, 200)
    const last = res.body.split('\n\n').filter((e) => e !== '').at(-1) ?? ''
    const event = JSON.parse(last.slice('data: '.length)) as { error: { code: string; message: string } }
    assert.equal(event.error.code, 'internal_error')
    assert.doesNotMatch(event.error.message, /allocation/)
  })

  it('answers 400, not 500, for a model path that is not percent-encoded UTF-8 and a target that is no URL', async () => {
    const { port } = await start()
    const malformed = await request(port, 'GET', '/v1/models/%E0%A4%A')
    assert.equal(malformed.status, 400)
    assert.equal(errorOf(malformed).param, 'model')
    assert.match(errorOf(malformed).message, /not valid percent-encoded UTF-8/)
    const target = await rawRequest(port, 'GET http://[ HTTP/1.1')
    assert.match(target, /^HTTP\/1\.1 400 /)
    assert.match(target, /not a valid URL path/)
  })
})

describe('API server access', () => {
  it('refuses a Host other than loopback and its own port (DNS rebinding)', async () => {
    const { port, backend } = await start()
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`]) {
      const res = await postJson(port, HELLO, { host })
      assert.equal(res.status, 421, host)
      assert.equal(errorOf(res).code, 'invalid_host')
    }
    assert.equal((await request(port, 'GET', '/v1/models', { headers: { host: `localhost:${port}` } })).status, 200)
    assert.equal(backend.calls.length, 0)
  })

  it('requires the API key when one is set, and refuses the network without one', async () => {
    await assert.rejects(startApiServer({ backend: new ScriptedBackend(), port: 0, network: true }), /API key/)
    const { port } = await start(undefined, { apiKey: 'sk-local-123' })
    const none = await request(port, 'GET', '/v1/models')
    assert.equal(none.status, 401)
    assert.equal(errorOf(none).code, 'missing_api_key')
    const wrong = await request(port, 'GET', '/v1/models', { headers: { authorization: 'Bearer sk-local-124' } })
    assert.equal(wrong.status, 401)
    assert.equal(errorOf(wrong).code, 'invalid_api_key')
    assert.equal((await request(port, 'GET', '/v1/models', { headers: { authorization: 'Bearer sk-local-123' } })).status, 200)
  })

  it('listens on every interface only on the network, where it skips the Host check', async () => {
    const { port } = await start(undefined, { network: true, apiKey: 'k' })
    assert.equal(server?.address, '0.0.0.0')
    const res = await request(port, 'GET', '/v1/models', { headers: { host: `my-pc.lan:${port}`, authorization: 'Bearer k' } })
    assert.equal(res.status, 200)
  })

  it('gives CORS headers only to allowed origins and refuses the others', async () => {
    const { port, backend } = await start(undefined, { allowedOrigins: ['http://localhost:3000'] })
    const pre = await request(port, 'OPTIONS', '/v1/chat/completions', { headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' } })
    assert.equal(pre.status, 204)
    assert.equal(pre.headers['access-control-allow-origin'], 'http://localhost:3000')
    assert.match(String(pre.headers['access-control-allow-headers']), /Authorization/)
    const ok = await postJson(port, HELLO, { origin: 'http://localhost:3000' })
    assert.equal(ok.headers['access-control-allow-origin'], 'http://localhost:3000')
    const evil = await postJson(port, HELLO, { origin: 'https://evil.example', 'content-type': 'text/plain' })
    assert.equal(evil.status, 403)
    assert.equal(evil.headers['access-control-allow-origin'], undefined)
    assert.equal(backend.calls.length, 1)
    const plain = await request(port, 'GET', '/v1/models')
    assert.equal(plain.headers['access-control-allow-origin'], undefined)
  })
})

describe('API server queue', () => {
  it('runs requests one at a time in arrival order and answers 429 with Retry-After when full', async () => {
    const { port, backend } = await start(undefined, { maxQueue: 1 })
    backend.hold()
    const first = postJson(port, { ...HELLO, messages: [{ role: 'user', content: 'first' }] })
    await until(() => backend.calls.length === 1)
    const second = postJson(port, { ...HELLO, messages: [{ role: 'user', content: 'second' }] })
    // The second waits in the queue; only then is the queue full.
    await until(() => server?.queue().waiting === 1)
    const third = await postJson(port, HELLO)
    assert.equal(third.status, 429)
    assert.equal(errorOf(third).type, 'rate_limit_error')
    assert.ok(Number(third.headers['retry-after']) >= 1)
    assert.equal(backend.calls.length, 1)
    backend.release()
    assert.equal((await first).status, 200)
    assert.equal((await second).status, 200)
    assert.deepEqual(backend.calls.map((c) => c.messages[0]?.content), ['first', 'second'])
  })

  it('aborts the generation of a client that disconnects, and gives up the place of one still waiting', async () => {
    const { port, backend } = await start()
    backend.hold()
    const abort = new AbortController()
    const running = fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(HELLO), signal: abort.signal }).catch(() => null)
    await until(() => backend.calls.length === 1)
    const waiting = new AbortController()
    const queued = fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ ...HELLO, model: 'tiny', messages: [{ role: 'user', content: 'queued' }] }), signal: waiting.signal }).catch(() => null)
    await until(() => server?.queue().waiting === 1)
    waiting.abort()
    abort.abort()
    await Promise.all([running, queued])
    await until(() => backend.calls[0]?.signal.aborted === true && server?.queue().waiting === 0)
    backend.release()
    const after = await postJson(port, HELLO)
    assert.equal(after.status, 200)
    assert.deepEqual(backend.calls.map((c) => c.messages[0]?.content), ['Hi', 'Hi'])
  })
})
