// The API server's request parser: any body is a request the engine can take, or a 400 that names
// the parameter at fault; nothing else escapes.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { HttpError } from '../../../src-main/api-server/http-error.ts'
import { parseCompletionRequest, type CompletionRequest } from '../../../src-main/api-server/request.ts'
import { runs } from './settings.ts'

/** The request, or the HttpError it was refused with; any other throw fails the property. */
function parse(raw: string): CompletionRequest | HttpError {
  try {
    return parseCompletionRequest(raw)
  } catch (err) {
    if (err instanceof HttpError) return err
    throw err
  }
}

// Object.prototype's member names as roles: a lookup in a plain object would find them.
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype)
const role = fc.oneof(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool', 'function', 'User', '', ...PROTOTYPE_NAMES), fc.string())

const anyNumber = fc.oneof(fc.double(), fc.integer({ min: -3, max: 100_000 }), fc.constantFrom(0, 1, 2, -2, 0.5, 1e300, 2 ** 53))
const wrong = fc.oneof(anyNumber, fc.string({ maxLength: 4 }), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 2 }))

const textPart = fc.record({ type: fc.constant('text'), text: fc.string() })
const part = fc.oneof(textPart, fc.record({ type: fc.constantFrom('image_url', 'text', ''), image_url: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: ['type'] }))
const message = fc.record({ role: fc.oneof({ weight: 12, arbitrary: fc.constantFrom('system', 'developer', 'user', 'assistant') }, { weight: 1, arbitrary: role }), content: fc.oneof(fc.string(), fc.array(textPart, { maxLength: 3 })) })
const oddMessage = fc.record(
  { role: fc.oneof(role, wrong), content: fc.oneof(fc.string(), fc.array(part, { maxLength: 3 }), wrong), tool_calls: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 1 }) },
  { requiredKeys: [] },
)

/** A body a client could well send: every field in its range. */
const goodBody = fc.record(
  {
    model: fc.constantFrom('m', 'tiny-chat'),
    messages: fc.array(message, { minLength: 1, maxLength: 3 }),
    stream: fc.boolean(),
    stream_options: fc.record({ include_usage: fc.boolean() }),
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    top_p: fc.double({ min: 0, max: 1, noNaN: true }),
    top_k: fc.integer({ min: 0, max: 200 }),
    min_p: fc.double({ min: 0, max: 1, noNaN: true }),
    repetition_penalty: fc.double({ min: 0.01, max: 10, noNaN: true }),
    max_tokens: fc.integer({ min: 1, max: 4096 }),
    max_completion_tokens: fc.integer({ min: 1, max: 4096 }),
    seed: fc.integer(),
    stop: fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.array(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 16 })),
    n: fc.constant(1),
    frequency_penalty: fc.constant(0),
    logprobs: fc.constant(false),
    response_format: fc.constant({ type: 'text' }),
    prediction: fc.record({ type: fc.constant('content'), content: fc.oneof(fc.string(), fc.array(textPart, { maxLength: 3 })) }),
  },
  { requiredKeys: ['model', 'messages'] },
)
const FIELDS = ['model', 'messages', 'stream', 'stream_options', 'temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty', 'max_tokens',
  'max_completion_tokens', 'seed', 'stop', 'n', 'frequency_penalty', 'presence_penalty', 'logprobs', 'logit_bias', 'tools', 'response_format', 'prediction']
/** A good body with up to two fields replaced by anything: out of range, of the wrong kind, or odd messages. */
const body = fc
  .tuple(goodBody, fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.oneof(wrong, fc.array(oddMessage, { maxLength: 3 }), fc.record({ type: fc.constantFrom('content', 'text'), content: fc.oneof(fc.array(part, { maxLength: 2 }), wrong) }))), { maxLength: 2 }))
  .map(([good, changes]) => ({ ...good, ...Object.fromEntries(changes) }))

const ROLES = new Set(['system', 'user', 'assistant'])

/** What the engine relies on in an accepted request. */
function assertUsable(req: CompletionRequest): void {
  assert.ok(typeof req.model === 'string' && req.model.length > 0)
  assert.ok(req.messages.length > 0)
  for (const m of req.messages) {
    assert.ok(ROLES.has(m.role), `role ${String(m.role)}`)
    assert.equal(typeof m.content, 'string')
  }
  for (const [key, value] of Object.entries(req.params)) {
    if (key === 'stop') {
      assert.ok(Array.isArray(value) && value.length <= 16 && value.every((s) => typeof s === 'string' && s.length > 0))
    } else if (key !== 'seed' || value !== null) {
      assert.ok(typeof value === 'number' && Number.isFinite(value), `${key} = ${String(value)}`)
    }
  }
  const { temperature, topP, topK, minP, repetitionPenalty, maxTokens } = req.params
  if (temperature !== undefined) assert.ok(temperature >= 0 && temperature <= 2)
  if (topP !== undefined) assert.ok(topP >= 0 && topP <= 1)
  if (topK !== undefined) assert.ok(Number.isInteger(topK) && topK >= 0)
  if (minP !== undefined) assert.ok(minP >= 0 && minP <= 1)
  if (repetitionPenalty !== undefined) assert.ok(repetitionPenalty > 0 && repetitionPenalty <= 10)
  if (maxTokens !== undefined) assert.ok(Number.isInteger(maxTokens) && maxTokens >= 1)
  assert.ok(!req.includeUsage || req.stream)
  assert.ok(req.prediction === null || (typeof req.prediction === 'string' && req.prediction !== ''))
}

function assertRefusal(err: HttpError): void {
  assert.equal(err.status, 400)
  assert.equal(err.type, 'invalid_request_error')
  assert.ok(err.message.length > 0)
}

describe('parseCompletionRequest, on any body', () => {
  it('answers any text with a request or a 400', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v)))
    fc.assert(
      fc.property(text, (raw) => {
        const result = parse(raw)
        if (result instanceof HttpError) assertRefusal(result)
        else assertUsable(result)
      }),
      runs(300),
    )
  })

  it('turns an OpenAI-shaped body into messages and parameters the engine takes, or refuses it naming a parameter', () => {
    fc.assert(
      fc.property(body, (value) => {
        const result = parse(JSON.stringify(value))
        if (!(result instanceof HttpError)) return assertUsable(result)
        assertRefusal(result)
        // A body that is an object is refused for one of its parameters (the JSON itself parsed).
        if (result.param !== null) assert.match(result.param, /^[a-z_]+(\[\d+\])?(\.[a-z_]+|\[\d+\])*$/)
      }),
      runs(400),
    )
  })
})
