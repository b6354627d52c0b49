// The API server driven by the official openai client, over a real engine and a tiny generated
// model: models, completions streamed and not, usage, stops, cache reuse, a disconnect mid-stream.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import OpenAI from 'openai'
import type { CompletionBackend, Generated } from '../../../src-main/api-server/backend.ts'
import { hostBackend } from './host-backend.ts'
import { startApiServer, type RunningApiServer } from '../../../src-main/api-server/server.ts'
import { EngineHost } from '../../../src-main/engine-host/engine-host.ts'
import { GREEDY, tempModels } from '../engine/fixtures.ts'
import { argumentsFit, TOOLS, withToolsTemplate } from '../engine/fixtures-tools.ts'

let models: Awaited<ReturnType<typeof tempModels>>
let host: EngineHost
let server: RunningApiServer
let client: OpenAI
/** Every generation the engine finished, as the host returned it. */
const finished: Generated[] = []

const USER = { role: 'user' as const, content: 'Write a haiku about the sea.' }

before(async () => {
  models = await tempModels('api')
  const tiny = await models.build('tiny')
  // The same weights with a chat template that renders tools.
  const tooly = await withToolsTemplate(await models.build('tooly'))
  host = new EngineHost()
  const inner = hostBackend({ host, models: { tiny, tooly }, load: { providers: ['cpu'], threads: 1 }, defaults: GREEDY })
  const backend: CompletionBackend = {
    ...inner,
    generate: async (...args) => {
      const result = await inner.generate(...args)
      finished.push(result)
      return result
    },
  }
  server = await startApiServer({ backend, port: 0 })
  client = new OpenAI({ baseURL: server.url, apiKey: 'not-needed-on-loopback', maxRetries: 0 })
})
after(async () => {
  await server.close()
  await host.close()
  await models.remove()
})

describe('API server with the openai client', () => {
  it('lists the model', async () => {
    const list = await client.models.list()
    assert.deepEqual(list.data.map((m) => [m.id, m.object, m.owned_by]), [['tiny', 'model', 'hearth'], ['tooly', 'model', 'hearth']])
  })

  it('streams exactly the text and usage a non-streamed completion returns', async () => {
    const whole = await client.chat.completions.create({ model: 'tiny', messages: [USER], temperature: 0 })
    assert.equal(whole.choices[0]?.finish_reason, 'length')
    assert.equal(whole.usage?.completion_tokens, GREEDY.maxTokens)
    assert.ok((whole.usage?.prompt_tokens ?? 0) > 10)
    assert.equal(whole.usage?.total_tokens, (whole.usage?.prompt_tokens ?? 0) + GREEDY.maxTokens)

    const stream = await client.chat.completions.create({
      model: 'tiny',
      messages: [USER],
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let finish: string | null = null
    let usage: OpenAI.CompletionUsage | null | undefined = null
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
      usage = chunk.usage ?? usage
    }
    assert.equal(text, whole.choices[0]?.message.content)
    assert.equal(finish, 'length')
    assert.equal(usage?.completion_tokens, GREEDY.maxTokens)
    assert.equal(usage?.prompt_tokens, whole.usage?.prompt_tokens)
  })

  it('takes a Predicted Output: the same reply, with the accepted and rejected prediction tokens in its usage', async () => {
    const plain = await client.chat.completions.create({ model: 'tiny', messages: [USER], temperature: 0 })
    const text = plain.choices[0]?.message.content ?? ''
    const predicted = await client.chat.completions.create({ model: 'tiny', messages: [USER], temperature: 0, prediction: { type: 'content', content: text } })
    assert.equal(predicted.choices[0]?.message.content, text)
    const details = predicted.usage?.completion_tokens_details
    assert.ok((details?.accepted_prediction_tokens ?? 0) > 0, `usage: ${JSON.stringify(predicted.usage)}`)
    assert.equal(typeof details?.rejected_prediction_tokens, 'number')
    assert.equal(predicted.usage?.completion_tokens, plain.usage?.completion_tokens)
  })

  it('keeps replies to a json_schema response_format, streamed or not, and the client parses them', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { enum: ['yes', 'no', 'maybe'] }, sure: { type: 'boolean' }, level: { enum: [1, 2, 3] } },
      required: ['answer', 'sure', 'level'],
      additionalProperties: false,
    }
    const format = { type: 'json_schema' as const, json_schema: { name: 'verdict', schema, strict: true } }
    const check = (text: string | null | undefined): Record<string, unknown> => {
      const value = JSON.parse(text ?? '') as Record<string, unknown>
      assert.deepEqual(Object.keys(value).sort(), ['answer', 'level', 'sure'], text ?? '')
      assert.ok(['yes', 'no', 'maybe'].includes(value.answer as string) && typeof value.sure === 'boolean' && [1, 2, 3].includes(value.level as number), text ?? '')
      return value
    }
    const whole = await client.chat.completions.create({ model: 'tiny', messages: [USER], temperature: 0, max_tokens: 1000, response_format: format })
    check(whole.choices[0]?.message.content)
    assert.equal(whole.choices[0]?.finish_reason, 'stop')

    const stream = await client.chat.completions.create({ model: 'tiny', messages: [USER], temperature: 0, max_tokens: 1000, response_format: format, stream: true })
    let text = ''
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
    assert.equal(text, whole.choices[0]?.message.content)

    for (const seed of [1, 2, 3]) {
      const parsed = await client.chat.completions.parse({ model: 'tiny', messages: [USER], temperature: 1.2, seed, max_tokens: 1000, response_format: format })
      assert.deepEqual(parsed.choices[0]?.message.parsed, check(parsed.choices[0]?.message.content))
    }
  })

  it('keeps a json_object reply to JSON, and refuses a response_format it cannot keep to, naming the parameter', async () => {
    const reply = await client.chat.completions.create({ model: 'tiny', messages: [USER], temperature: 0, max_tokens: 200, response_format: { type: 'json_object' } })
    const content = reply.choices[0]?.message.content ?? ''
    assert.match(content, /^\s*[{[]/)
    if (reply.choices[0]?.finish_reason === 'stop') assert.equal(typeof JSON.parse(content), 'object')
    const refusals: [unknown, string][] = [
      [{ type: 'xml' }, 'response_format.type'],
      [{ type: 'json_schema', json_schema: { schema: {} } }, 'response_format.json_schema.name'],
      [{ type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { $ref: '#/nowhere' } } } } }, ''],
    ]
    for (const [format, param] of refusals) {
      await assert.rejects(
        client.chat.completions.create({ model: 'tiny', messages: [USER], response_format: format as OpenAI.ResponseFormatText }),
        (err: InstanceType<typeof OpenAI.APIError>) => err.status === 400 && (param === '' || err.param === param),
      )
    }
  })

  const apiTools: OpenAI.ChatCompletionTool[] = TOOLS.map((t) => ({ type: 'function', function: { name: t.name, description: t.description ?? '', parameters: t.parameters ?? {} } }))
  const callsOf = (calls: readonly { function?: { name?: string; arguments?: string } }[] | undefined): [string, string][] =>
    (calls ?? []).map((c) => [c.function?.name ?? '', c.function?.arguments ?? ''])

  it("returns the call a tool_choice 'required' forces, streamed as tool_calls deltas or not, with finish_reason tool_calls", async () => {
    const asked = { model: 'tooly', messages: [USER], temperature: 0, max_tokens: 400, tools: apiTools, tool_choice: 'required' as const }
    const whole = await client.chat.completions.create(asked)
    const choice = whole.choices[0]!
    assert.equal(choice.finish_reason, 'tool_calls')
    assert.equal(choice.message.content, null)
    const [call] = callsOf(choice.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[])
    assert.ok(call && argumentsFit(call[0], call[1]), JSON.stringify(choice.message))
    assert.match(choice.message.tool_calls![0]!.id, /^call_/)

    const stream = await client.chat.completions.create({ ...asked, stream: true })
    const deltas: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall[] = []
    let finish: string | null = null
    for await (const chunk of stream) {
      deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []))
      finish = chunk.choices[0]?.finish_reason ?? finish
    }
    assert.equal(finish, 'tool_calls')
    assert.deepEqual(callsOf(deltas), [call])
    assert.deepEqual(deltas.map((d) => d.index), [0])

    const named = await client.chat.completions.create({ ...asked, tool_choice: { type: 'function', function: { name: 'add' } } })
    const [add] = callsOf(named.choices[0]?.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[])
    assert.equal(add?.[0], 'add')
    assert.ok(argumentsFit('add', add![1]))
  })

  it("takes a history with the assistant's calls and the tools' results, and refuses tools a model cannot be offered", async () => {
    const history: OpenAI.ChatCompletionMessageParam[] = [
      USER,
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo","unit":"C"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 4}' },
    ]
    const reply = await client.chat.completions.create({ model: 'tooly', messages: history, temperature: 0, tools: apiTools, tool_choice: 'none' })
    assert.equal(reply.choices[0]?.finish_reason, 'length')
    assert.equal(typeof reply.choices[0]?.message.content, 'string')
    const refused = async (body: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>, param: string | null): Promise<void> => {
      await assert.rejects(
        client.chat.completions.create({ model: 'tooly', messages: [USER], ...body } as OpenAI.ChatCompletionCreateParamsNonStreaming),
        (err: InstanceType<typeof OpenAI.APIError>) => err.status === 400 && err.param === param,
      )
    }
    await refused({ tools: apiTools, tool_choice: { type: 'function', function: { name: 'missing' } } }, 'tool_choice.function.name')
    await refused({ tool_choice: 'required' }, 'tool_choice')
    await refused({ model: 'tiny', tools: apiTools }, null)
    await refused({ messages: [{ role: 'tool', content: 'x' } as OpenAI.ChatCompletionMessageParam] }, 'messages[0].tool_call_id')
  })

  it('stops at a stop string and leaves it out', async () => {
    const full = (await client.chat.completions.create({ model: 'tiny', messages: [USER], temperature: 0 })).choices[0]?.message.content ?? ''
    const stop = full.slice(4, 7)
    const cut = await client.chat.completions.create({ model: 'tiny', messages: [USER], temperature: 0, stop: [stop] })
    assert.equal(cut.choices[0]?.finish_reason, 'stop')
    assert.equal(cut.choices[0]?.message.content, full.slice(0, full.indexOf(stop)))
    assert.ok((cut.usage?.completion_tokens ?? 0) < GREEDY.maxTokens)
  })

  it('prefills only the new turn when a client resends a growing chat', async (t) => {
    const first = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'Name three rivers.' }], temperature: 0 })
    const reply = first.choices[0]?.message.content ?? ''
    const { data: second, response } = await client.chat.completions
      .create({
        model: 'tiny',
        messages: [{ role: 'user', content: 'Name three rivers.' }, { role: 'assistant', content: reply }, { role: 'user', content: 'And three lakes?' }],
        temperature: 0,
      })
      .withResponse()
    const cached = second.usage?.prompt_tokens_details?.cached_tokens ?? 0
    // The whole first prompt and most of the reply came from the cache.
    assert.ok(cached >= (first.usage?.prompt_tokens ?? Infinity), `cached ${cached} of ${second.usage?.prompt_tokens}`)
    assert.ok(cached < (second.usage?.prompt_tokens ?? 0))
    assert.equal(Number(response.headers.get('x-hearth-reused-tokens')), cached)
    t.diagnostic(`turn 2: ${cached} of ${second.usage?.prompt_tokens} prompt tokens from the cache`)
  })

  it('stops the engine when the client disconnects mid-stream', async (t) => {
    const maxTokens = 1500
    const count = finished.length
    const stream = await client.chat.completions.create({ model: 'tiny', messages: [USER], temperature: 0, max_tokens: maxTokens, stream: true })
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) break
    }
    // Leaving the loop aborts the HTTP request; the engine's own result says where it stopped.
    while (finished.length === count) await new Promise((resolve) => setImmediate(resolve))
    const stats = finished.at(-1)?.stats
    assert.equal(stats?.stopReason, 'cancelled')
    assert.ok((stats?.generatedTokens ?? maxTokens) < maxTokens)
    t.diagnostic(`the engine stopped after ${stats?.generatedTokens} of ${maxTokens} tokens`)
    const next = await client.chat.completions.create({ model: 'tiny', messages: [USER], temperature: 0, max_tokens: 2 })
    assert.equal(next.usage?.completion_tokens, 2)
  })
})
