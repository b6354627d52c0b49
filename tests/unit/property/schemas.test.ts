// The bridge's argument schemas: whatever a renderer, a web page or a structured clone sends,
// dispatch answers with the call's result or a BAD_REQUEST, and a refused call reaches no service.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { API_METHODS, type Api, type ApiMethod } from '../../../src-shared/api.ts'
import { dispatch } from '../../../src-main/app/dispatch.ts'
import { argsSchemas } from '../../../src-main/app/schemas.ts'
import { runs } from './settings.ts'

/** An Api whose every method records the arguments it was called with. */
function recordingApi(): { api: Api; calls: [ApiMethod, unknown[]][] } {
  const calls: [ApiMethod, unknown[]][] = []
  const api = Object.fromEntries(API_METHODS.map((m) => [m, async (...args: unknown[]) => void calls.push([m, args])])) as unknown as Api
  return { api, calls }
}

const method = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...API_METHODS) }, { weight: 1, arbitrary: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString')) })

/** Values near what the schemas accept, so calls pass as well as fail, and the edges of each bound. */
const nearValid = fc.oneof(
  fc.constantFrom(
    '0f8fad5b-d9cb-469f-a165-70867728950e',
    'tiny-chat',
    'owner/name',
    '..',
    'a/b',
    'q4',
    'fp32',
    'json',
    'markdown',
    'copy',
    'link',
    'deadbeef',
    '',
    ' ',
    '\0',
    'x'.repeat(257),
    0,
    -1,
    0.5,
    1,
    256,
    10_000,
    Number.MAX_SAFE_INTEGER,
    2 ** 53 + 2,
    Number.NaN,
    Infinity,
    -0,
    true,
    false,
    null,
    undefined,
  ),
  fc.record(
    {
      title: fc.string({ maxLength: 8 }),
      modelId: fc.constantFrom('tiny-chat', null, '..', ''),
      pinned: fc.boolean(),
      theme: fc.constantFrom('light', 'dark', 'system', 'sepia'),
      params: fc.record({ temperature: fc.double(), topK: fc.integer(), stop: fc.array(fc.string(), { maxLength: 3 }), seed: fc.oneof(fc.constant(null), fc.integer()) }, { requiredKeys: [] }),
      limit: fc.integer({ min: -2, max: 20_000 }),
      extra: fc.anything(),
    },
    { requiredKeys: [] },
  ),
  fc.string({ maxLength: 12 }),
)

/** What a structured clone (Electron IPC) can carry, besides JSON. */
const cloneable = fc.anything({
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withTypedArray: true,
  withSparseArray: true,
  withBoxedValues: true,
  withUnicodeString: true,
})

const args = fc.oneof(fc.array(nearValid, { maxLength: 4 }), fc.jsonValue(), cloneable, fc.array(cloneable, { maxLength: 3 }))

describe('dispatch, on any payload', () => {
  it('never throws: a refused call is a BAD_REQUEST with a message, and reaches no service', async () => {
    await fc.assert(
      fc.asyncProperty(method, args, async (name, payload) => {
        const { api, calls } = recordingApi()
        const result = await dispatch(api, name, payload)
        if (result.ok) {
          assert.equal(calls.length, 1)
          assert.equal(calls[0]![0], name)
        } else {
          assert.equal(result.error.code, 'BAD_REQUEST', result.error.message)
          assert.ok(result.error.message.length > 0 && result.error.message.length < 2000, result.error.message)
          assert.deepEqual(calls, [])
        }
      }),
      runs(400),
    )
  })

  it('hands a service only what its schema accepts, as the schema parsed it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...API_METHODS), fc.array(nearValid, { maxLength: 3 }), async (name, payload) => {
        const { api, calls } = recordingApi()
        const result = await dispatch(api, name, payload)
        const parsed = argsSchemas[name].safeParse(payload)
        assert.equal(result.ok, parsed.success)
        if (parsed.success) assert.deepEqual(calls, [[name, parsed.data]])
      }),
      runs(300),
    )
  })
})
