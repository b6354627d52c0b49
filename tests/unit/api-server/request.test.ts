// parseCompletionRequest: OpenAI request bodies to engine messages and parameters, and refusals
// that name the parameter at fault.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { HttpError } from '../../../src-main/api-server/http-error.ts'
import { parseCompletionRequest } from '../../../src-main/api-server/request.ts'

const parse = (value: unknown) => parseCompletionRequest(JSON.stringify(value))
const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] }

function refusal(value: unknown): HttpError {
  try {
    parse(value)
  } catch (err) {
    assert.ok(err instanceof HttpError)
    assert.equal(err.status, 400)
    return err
  }
  assert.fail('the request was accepted')
}

describe('parseCompletionRequest', () => {
  it('takes developer as system and joins text parts', () => {
    const req = parse({
      model: 'm',
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
        { role: 'assistant', content: 'ok' },
      ],
    })
    assert.deepEqual(req.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'one\ntwo' },
      { role: 'assistant', content: 'ok' },
    ].map((m) => ({ ...m, files: [] })))
  })

  it("takes a file part's bytes from its data URL or bare base64, in order, beside the text", () => {
    const data = (text: string) => Buffer.from(text).toString('base64')
    const req = parse({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'file', file: { filename: 'a.md', file_data: `data:text/markdown;charset=utf-8;base64,${data('# A')}` } },
            { type: 'text', text: 'Read these.' },
            { type: 'file', file: { file_data: data('plain') } },
          ],
        },
      ],
    })
    const [message] = req.messages
    assert.equal(message!.content, 'Read these.')
    assert.deepEqual(message!.files.map((f) => [f.name, f.bytes.toString()]), [['a.md', '# A'], ['file messages[0].content[2]', 'plain']])
  })

  it('sets only the parameters the client sent', () => {
    assert.deepEqual(parse(base).params, {})
    assert.deepEqual(parse({ ...base, stop: 'END', max_tokens: 5, max_completion_tokens: 9, temperature: null }).params, { stop: ['END'], maxTokens: 9 })
  })

  it('asks for the usage chunk only on a stream', () => {
    assert.equal(parse({ ...base, stream_options: { include_usage: true } }).includeUsage, false)
    const req = parse({ ...base, stream: true, stream_options: { include_usage: true } })
    assert.equal(req.stream, true)
    assert.equal(req.includeUsage, true)
  })

  it('accepts the zero penalties clients send by default and refuses others', () => {
    assert.deepEqual(parse({ ...base, frequency_penalty: 0, presence_penalty: 0, n: 1 }).params, {})
    assert.equal(refusal({ ...base, frequency_penalty: 0.5 }).param, 'frequency_penalty')
    assert.equal(refusal({ ...base, n: 2 }).param, 'n')
  })

  it('refuses what Hearth cannot do, naming where', () => {
    assert.equal(refusal({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }).param, 'messages[0].content[0].type')
    assert.equal(refusal({ ...base, tools: [{ type: 'function' }] }).param, 'tools[0].function')
    assert.equal(refusal({ ...base, tools: [{ type: 'function', function: { name: 'has space' } }] }).param, 'tools[0].function.name')
    assert.equal(refusal({ ...base, functions: [{ name: 'f' }] }).param, 'functions')
    assert.equal(refusal({ ...base, response_format: { type: 'yaml' } }).param, 'response_format.type')
    assert.equal(refusal({ ...base, response_format: { type: 'json_schema', json_schema: { name: 'a b' } } }).param, 'response_format.json_schema.name')
    assert.equal(refusal({ ...base, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: [1] } } }).param, 'response_format.json_schema.schema')
    assert.equal(refusal({ model: 'm', messages: [{ role: 'assistant', content: null }] }).param, 'messages[0].content')
    assert.equal(refusal({ ...base, stop: ['a', ''] }).param, 'stop[1]')
    assert.equal(refusal({ ...base, temperature: 3 }).param, 'temperature')
    assert.equal(refusal({ ...base, messages: [] }).param, 'messages')
    assert.equal(refusal([base]).param, null)
  })

  it('reads response_format: text is none, json_object, and json_schema as its schema (any JSON object without one)', () => {
    assert.equal(parse(base).responseFormat, null)
    assert.equal(parse({ ...base, response_format: { type: 'text' } }).responseFormat, null)
    assert.deepEqual(parse({ ...base, response_format: { type: 'json_object' } }).responseFormat, { type: 'json_object' })
    const schema = { type: 'object', properties: { a: { type: 'string' } } }
    assert.deepEqual(parse({ ...base, response_format: { type: 'json_schema', json_schema: { name: 'thing', schema, strict: true } } }).responseFormat, { type: 'json_schema', schema })
    assert.deepEqual(parse({ ...base, response_format: { type: 'json_schema', json_schema: { name: 'thing' } } }).responseFormat, { type: 'json_object' })
  })

  it("reads tools, tool_choice, an assistant's tool_calls and a tool's result", () => {
    const tools = [{ type: 'function', function: { name: 'add', description: 'Adds.', parameters: { type: 'object' } } }]
    const parsed = parse({
      model: 'm',
      tools,
      tool_choice: { type: 'function', function: { name: 'add' } },
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'add', arguments: '{"a":1}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: '2' }] },
      ],
    })
    assert.deepEqual(parsed.tools, [{ name: 'add', description: 'Adds.', parameters: { type: 'object' } }])
    assert.deepEqual(parsed.toolChoice, { name: 'add' })
    assert.deepEqual(parsed.messages.slice(1).map(({ files: _files, ...m }) => m), [
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'add', arguments: '{"a":1}' }] },
      { role: 'tool', content: '2', toolCallId: 'c1' },
    ])
    assert.equal(parse(base).toolChoice, 'auto')
    assert.equal(refusal({ ...base, messages: [{ role: 'user', content: 'x', tool_calls: [{ id: 'c', type: 'function', function: { name: 'a', arguments: '{}' } }] }] }).param, 'messages[0].tool_calls[0]')
    assert.equal(refusal({ ...base, messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c' }] }] }).param, 'messages[0].tool_calls[0]')
  })

  it('knows only its own roles, not names that live on every object', () => {
    for (const role of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'function']) {
      assert.equal(refusal({ model: 'm', messages: [{ role, content: 'hi' }] }).param, 'messages[0].role', role)
    }
  })

  it('caps stop strings as the app does: 16 of at most 256 characters each, saying which', () => {
    assert.deepEqual(parse({ ...base, stop: 'x'.repeat(256) }).params.stop, ['x'.repeat(256)])
    const long = refusal({ ...base, stop: 'x'.repeat(257) })
    assert.equal(long.param, 'stop')
    assert.match(long.message, /a stop string is at most 256 characters/)
    const inList = refusal({ ...base, stop: ['end', 'y'.repeat(10_000)] })
    assert.equal(inList.param, 'stop[1]')
    assert.match(inList.message, /at most 256 characters/)
    const many = refusal({ ...base, stop: Array.from({ length: 17 }, (_, i) => `s${i}`) })
    assert.equal(many.param, 'stop')
    assert.match(many.message, /at most 16 stop strings/)
  })

  it("takes a prediction's text, whole or in text parts joined as they are", () => {
    assert.equal(parse(base).prediction, null)
    assert.equal(parse({ ...base, prediction: { type: 'content', content: 'def f():\n  return 1\n' } }).prediction, 'def f():\n  return 1\n')
    const parts = [{ type: 'text', text: 'def f():\n' }, { type: 'text', text: '  return 1\n' }]
    assert.equal(parse({ ...base, prediction: { type: 'content', content: parts } }).prediction, 'def f():\n  return 1\n')
    // Nothing to draft from: as if none was sent.
    assert.equal(parse({ ...base, prediction: { type: 'content', content: '' } }).prediction, null)
    assert.equal(parse({ ...base, prediction: null }).prediction, null)
  })

  it('refuses a prediction of another type or shape, naming where and what is allowed', () => {
    const wrongType = refusal({ ...base, prediction: { type: 'diff', content: 'x' } })
    assert.equal(wrongType.param, 'prediction.type')
    assert.match(wrongType.message, /'prediction\.type': "diff"\. The only supported value is 'content'/)
    assert.equal(refusal({ ...base, prediction: { content: 'x' } }).param, 'prediction.type')
    assert.equal(refusal({ ...base, prediction: { type: 'content', content: 42 } }).param, 'prediction.content')
    assert.equal(refusal({ ...base, prediction: { type: 'content' } }).param, 'prediction.content')
    const image = refusal({ ...base, prediction: { type: 'content', content: [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'x' } }] } })
    assert.equal(image.param, 'prediction.content[1]')
    assert.match(image.message, /text parts/)
    assert.equal(refusal({ ...base, prediction: 'x' }).param, 'prediction')
  })
})
