// The app's API server, driven by the official openai client, on the trained stories260K model
// imported from its GGUF: temperature 0 returns the fixture's reference text, whole and streamed.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import OpenAI from 'openai'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { convertGguf } from '../../../src-main/models/gguf/convert.ts'
import { STORIES_GGUF, STORIES_REFERENCE, storiesMissing } from '../../../tools/stories-fixture.ts'

const PROMPT = 'Once upon a time'
const CONTINUATION = STORIES_REFERENCE.slice(PROMPT.length)
/** The continuation's tokens: the reference's 61 less the prompt's 4. */
const MAX_TOKENS = 57
const skip = storiesMissing() ?? false

let root = ''
let app: App | null = null
let client: OpenAI

before(async () => {
  if (skip) return
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-api-stories-'))
  await convertGguf(STORIES_GGUF, path.join(root, 'models', 'stories260K'))
  app = await createApp({
    shell: 'browser',
    version: '0.0.0',
    dataDir: path.join(root, 'data'),
    modelsDir: path.join(root, 'models'),
    apiServer: { enabled: true, port: 0 },
  })
  await app.api.setSettings({ threads: 1, providerPreference: 'cpu' })
  const { url } = await app.api.apiServerStatus()
  assert.ok(url)
  client = new OpenAI({ baseURL: url, apiKey: 'not-needed-on-loopback', maxRetries: 0 })
})
after(async () => {
  await app?.close()
  if (root) await rm(root, { recursive: true, force: true })
})

describe('/v1/chat/completions on stories260K', () => {
  const request = { model: 'stories260K', messages: [{ role: 'user' as const, content: PROMPT }], temperature: 0, max_tokens: MAX_TOKENS }

  it('lists the imported model by its folder name', { skip }, async () => {
    assert.deepEqual((await client.models.list()).data.map((m) => m.id), ['stories260K'])
  })

  it(`continues "${PROMPT}" with the reference at temperature 0`, { skip }, async () => {
    const completion = await client.chat.completions.create(request)
    assert.equal(completion.choices[0]?.message.content, CONTINUATION)
    assert.equal(completion.choices[0]?.finish_reason, 'length')
    assert.equal(completion.usage?.prompt_tokens, 5)
    assert.equal(completion.usage?.completion_tokens, MAX_TOKENS)
  })

  it('streams the same reference, piece by piece', { skip }, async () => {
    const stream = await client.chat.completions.create({ ...request, stream: true })
    let text = ''
    let pieces = 0
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content ?? ''
      text += piece
      if (piece) pieces++
    }
    assert.equal(text, CONTINUATION)
    assert.ok(pieces > 10, `${pieces} pieces`)
  })
})
