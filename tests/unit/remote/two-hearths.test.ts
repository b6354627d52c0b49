// Two Hearth apps in one process: A serves a tiny model over its API server, B adds A as a remote
// provider and chats through it with the same Api, history, stop and stats as a local model.
// Servers that are down or answer garbage end the reply as an error with a specific message.

import assert from 'node:assert/strict'
import http from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Events } from '../../../src-shared/api.ts'
import type { RemoteProvider } from '../../../src-shared/types.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'

let root: string
let serving: App
let client: App
let remote: RemoteProvider

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-two-'))
  // One layer: thousands of tokens a second, and greedy decoding never meets eos in 2,000 tokens.
  await buildModel(path.join(root, 'a-models', 'tiny'), { layers: 1 })
  serving = await createApp({
    shell: 'browser',
    version: '0.0.0',
    dataDir: path.join(root, 'a-data'),
    modelsDir: path.join(root, 'a-models'),
    apiServer: { enabled: true, port: 0 },
  })
  await serving.api.setSettings({ threads: 1 })
  client = await createApp({ shell: 'browser', version: '0.0.0', dataDir: path.join(root, 'b-data'), modelsDir: path.join(root, 'b-models') })
  const { url } = await serving.api.apiServerStatus()
  assert.ok(url)
  remote = await client.api.addRemoteProvider({ name: 'Hearth A', baseUrl: url })
})

after(async () => {
  await client.close()
  await serving.close()
  await rm(root, { recursive: true, force: true })
})

/** The reply's events until its `done`. */
function reply(app: App, messageId: () => string): Promise<{ tokens: string[]; done: Events['done']; error: Events['generationError'] | null }> {
  const tokens: string[] = []
  let error: Events['generationError'] | null = null
  return new Promise((resolve) => {
    const off = app.events.subscribe((name, payload) => {
      if (name === 'token' && (payload as Events['token']).messageId === messageId()) tokens.push((payload as Events['token']).text)
      if (name === 'generationError' && (payload as Events['generationError']).messageId === messageId()) error = payload as Events['generationError']
      if (name === 'done' && (payload as Events['done']).messageId === messageId()) {
        off()
        resolve({ tokens, done: payload as Events['done'], error })
      }
    })
  })
}

async function chatOnce(conversationId: string, text: string): Promise<Awaited<ReturnType<typeof reply>>> {
  let id = ''
  const events = reply(client, () => id)
  id = (await client.api.send(conversationId, text)).reply.id
  return events
}

async function fakeServer(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

describe('a Hearth chatting through another Hearth', () => {
  it('lists the serving Hearth’s model and keeps no key it was not given', async () => {
    assert.deepEqual(remote.models.map((m) => m.name), ['tiny'])
    assert.equal(remote.hasApiKey, false)
    assert.deepEqual(await client.api.listRemoteProviders(), [remote])
    // B has no model of its own: the chat below cannot be a local one.
    assert.deepEqual(await client.api.listModels(), [])
  })

  it('streams replies into the history with client-side stats, and the serving cache is reused on the next turn', async (t) => {
    const modelId = remote.models[0]?.id ?? ''
    const { id } = await client.api.createConversation({ modelId, params: { temperature: 0, maxTokens: 8 } })
    const first = await chatOnce(id, 'Hello over there')
    assert.equal(first.error, null)
    assert.equal(first.done.message.status, 'complete')
    assert.equal(first.done.message.modelId, modelId)
    assert.equal(first.done.message.content, first.tokens.join(''))
    assert.ok(first.done.message.content.length > 0)
    const stats = first.done.stats
    assert.equal(stats?.provider, 'remote')
    assert.equal(stats?.generatedTokens, 8)
    assert.equal(stats?.stopReason, 'length')
    assert.ok((stats?.promptTokens ?? 0) > 0 && (stats?.ttftMs ?? 0) > 0)

    const second = await chatOnce(id, 'And again')
    assert.equal(second.done.message.status, 'complete')
    // The serving engine kept the first prompt and reply: B resent the chat and paid for the new turn.
    assert.ok((second.done.stats?.reusedTokens ?? 0) >= (stats?.promptTokens ?? Infinity))
    t.diagnostic(`turn 2: ${second.done.stats?.reusedTokens} of ${second.done.stats?.promptTokens} prompt tokens reused; TTFT ${second.done.stats?.ttftMs.toFixed(1)} ms`)
    const branch = (await client.api.getConversation(id)).branch.map((e) => [e.message.role, e.message.status])
    assert.deepEqual(branch, [['user', 'complete'], ['assistant', 'complete'], ['user', 'complete'], ['assistant', 'complete']])
  })

  it('stops a remote reply with the stop button: interrupted, its text kept', async () => {
    const { id } = await client.api.createConversation({ modelId: remote.models[0]?.id ?? '', params: { temperature: 0, maxTokens: 2000 } })
    let replyId = ''
    const events = reply(client, () => replyId)
    const firstToken = new Promise<void>((resolve) => {
      const off = client.events.subscribe((name) => {
        if (name === 'token') {
          off()
          resolve()
        }
      })
    })
    replyId = (await client.api.send(id, 'Tell me everything')).reply.id
    await firstToken
    await client.api.stop(id)
    const { done } = await events
    assert.equal(done.message.status, 'interrupted')
    assert.ok(done.message.content.length > 0)
    assert.equal(done.stats?.stopReason, 'cancelled')
  })

  it('ends the reply with a specific error when the server is down or answers garbage', async () => {
    const models = (_: http.IncomingMessage, res: http.ServerResponse): void => void res.end('{"object":"list","data":[{"id":"m"}]}')
    const garbage = await fakeServer((req, res) => {
      if (req.url?.endsWith('/models')) return models(req, res)
      res.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: <html>oops</html>\n\n')
    })
    const down = await fakeServer(models)
    try {
      const broken = await client.api.addRemoteProvider({ baseUrl: garbage.url })
      const gone = await client.api.addRemoteProvider({ baseUrl: down.url })
      await down.close()
      for (const [provider, expected] of [[broken, /not speaking the OpenAI API.*not a chat completion chunk/], [gone, /Could not reach .*connection refused/]] as const) {
        const { id } = await client.api.createConversation({ modelId: provider.models[0]?.id ?? '' })
        const { done, error } = await chatOnce(id, 'Hi')
        assert.equal(done.message.status, 'error')
        assert.match(done.message.error ?? '', expected)
        assert.equal(error?.error.code, 'REMOTE_FAILED')
      }
    } finally {
      await garbage.close()
    }
  })
})
