// Argument schemas: every method validates its payload, and malformed payloads never reach a service.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { API_METHODS, type Api, type ApiMethod } from '../../../src-shared/api.ts'
import { dispatch } from '../../../src-main/app/dispatch.ts'
import { argsSchemas, MAX_MESSAGE_BYTES } from '../../../src-main/app/schemas.ts'

const ID = '0f8fad5b-d9cb-469f-a165-70867728950e'

/** An Api whose every method records that it was reached. */
function recordingApi(): { api: Api; reached: ApiMethod[] } {
  const reached: ApiMethod[] = []
  const api = Object.fromEntries(
    API_METHODS.map((m) => [m, async () => void reached.push(m)]),
  ) as unknown as Api
  return { api, reached }
}

async function rejects(method: ApiMethod, args: unknown): Promise<string> {
  const { api, reached } = recordingApi()
  const result = await dispatch(api, method, args)
  assert.equal(result.ok, false, `${method}(${JSON.stringify(args)?.slice(0, 80)}) was accepted`)
  assert.deepEqual(reached, [])
  return result.ok ? '' : `${result.error.code}: ${result.error.message}`
}

async function accepts(method: ApiMethod, args: unknown[]): Promise<void> {
  const { api, reached } = recordingApi()
  const result = await dispatch(api, method, args)
  assert.deepEqual(result, { ok: true, value: undefined }, `${method} refused ${JSON.stringify(args).slice(0, 80)}`)
  assert.deepEqual(reached, [method])
}

describe('argsSchemas', () => {
  it('has a schema for every Api method', () => {
    assert.deepEqual(Object.keys(argsSchemas).sort(), [...API_METHODS].sort())
  })

  it('accepts well-formed calls', async () => {
    await accepts('appInfo', [])
    await accepts('listConversations', [])
    await accepts('listConversations', [{ archived: true, limit: 20 }])
    await accepts('createConversation', [{ title: 'Plans', params: { temperature: 0, stop: ['###'] }, contextPolicy: 'stop' }])
    await accepts('send', [ID, 'Hello 👋'])
    await accepts('updateConversation', [ID, { pinned: true, modelId: 'SmolLM2-135M-Instruct' }])
    await accepts('exportConversations', [null, 'markdown'])
    await accepts('setSettings', [{ fontSize: 16, threads: null, windowBounds: { x: -1200, y: 0, width: 900, height: 700, maximized: false } }])
    await accepts('loadModel', ['tiny-model', 'q4'])
    await accepts('startDownload', ['HuggingFaceTB/SmolLM2-135M-Instruct', 'q4'])
  })

  it('rejects a message over 1 MB and a blank one', async () => {
    assert.match(await rejects('send', [ID, 'x'.repeat(MAX_MESSAGE_BYTES + 1)]), /^BAD_REQUEST: .*at 1/)
    // 2 bytes per 'é' in UTF-8: short in characters, over the limit in bytes.
    await rejects('send', [ID, 'é'.repeat(MAX_MESSAGE_BYTES / 2 + 1)])
    await rejects('send', [ID, '   \n '])
  })

  it('rejects ids that are not UUIDs and model ids that are paths', async () => {
    assert.match(await rejects('getConversation', ['../etc/passwd']), /^BAD_REQUEST: Invalid arguments for getConversation at 0/)
    await rejects('stop', [42])
    await rejects('loadModel', ['../outside'])
    await rejects('loadModel', ['..'])
    await rejects('removeModel', ['a/b'])
  })

  it('takes a count of the message being written in a conversation or in a chat not created yet', async () => {
    await accepts('countTokens', [ID, '', []])
    await accepts('countTokens', [{ modelId: 'tiny-model', systemPrompt: 'Be brief.', toolServers: ['calc'] }, 'Hello', ['a'.repeat(64)]])
    await accepts('startConversation', [{ modelId: 'tiny-model', params: { temperature: 0 } }, 'Hello'])
    await accepts('previewConversation', [{ modelId: null }])
    await rejects('previewConversation', [{ pinned: true }])
    await rejects('countTokens', [ID, 'Hello'])
    await rejects('countTokens', ['../etc', 'Hello', []])
    await rejects('countTokens', [{ activeLeafId: ID }, 'Hello', []])
    await rejects('countTokens', [ID, 'x'.repeat(MAX_MESSAGE_BYTES + 1), []])
    await rejects('startConversation', [{}, '  '])
    await rejects('startConversation', [{ modelId: '../outside' }, 'Hello'])
  })

  it('rejects missing, extra and wrongly typed arguments', async () => {
    await rejects('send', [ID])
    await rejects('send', [ID, 'hi', 'extra'])
    await rejects('appInfo', [1])
    await rejects('send', 'not an array')
    await rejects('exportConversations', [ID, 'pdf'])
  })

  it('rejects unknown fields and out-of-range values in patches', async () => {
    await rejects('updateConversation', [ID, { title: 'x', activeLeafId: ID }])
    await rejects('updateConversation', [ID, { params: { temperature: -1 } }])
    await rejects('updateConversation', [ID, { params: { stop: Array(17).fill('x') } }])
    await rejects('createConversation', [{ title: '' }])
    await rejects('setSettings', [{ fontSize: 200 }])
    await rejects('setSettings', [{ theme: 'neon' }])
    await rejects('setSettings', [{ nope: true }])
  })

  it('bounds the defaults in settings as tightly as the conversation fields they fill', async () => {
    const params = { temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1, maxTokens: 512, seed: null, stop: [] }
    await accepts('setSettings', [{ defaultParams: params, defaultModelId: 'smollm2-135m', idleUnloadMinutes: 10_080 }])
    await rejects('setSettings', [{ defaultParams: { ...params, stop: Array(17).fill('x') } }])
    await rejects('setSettings', [{ defaultParams: { ...params, maxTokens: 2_000_000 } }])
    await rejects('setSettings', [{ defaultModelId: '../../etc' }])
    await rejects('setSettings', [{ defaultSystemPrompt: 'x'.repeat(200_001) }])
    await rejects('setSettings', [{ idleUnloadMinutes: 36_000 }])
  })

  it('takes the speculative decoding switch and draft models named by model folder, each drafting for another', async () => {
    await accepts('setSettings', [{ speculativeDecoding: false, draftModels: { 'SmolLM2-360M-Instruct': 'SmolLM2-135M-Instruct' } }])
    await accepts('setSettings', [{ draftModels: {} }])
    await accepts('draftCandidates', ['SmolLM2-360M-Instruct'])
    await rejects('setSettings', [{ speculativeDecoding: 'yes' }])
    assert.match(await rejects('setSettings', [{ draftModels: { big: '../small' } }]), /at 0\.draftModels\.big: must be a model folder name/)
    await rejects('setSettings', [{ draftModels: { '..': 'small' } }])
    await rejects('setSettings', [{ draftModels: { big: 3 } }])
    await rejects('setSettings', [{ draftModels: ['small'] }])
    assert.match(await rejects('setSettings', [{ draftModels: { big: 'big' } }]), /cannot draft for itself/)
    await rejects('draftCandidates', ['a/b'])
  })

  it('takes load settings per model folder and a fit judged for one variant', async () => {
    await accepts('setSettings', [{ modelLoadSettings: { 'SmolLM2-135M-Instruct': { contextLength: 4096, variant: 'q4', provider: 'cpu', threads: 4 } } }])
    await accepts('setSettings', [{ modelLoadSettings: { 'SmolLM2-135M-Instruct': {} } }])
    await rejects('setSettings', [{ modelLoadSettings: { '../x': { threads: 2 } } }])
    assert.match(await rejects('setSettings', [{ modelLoadSettings: { m: { contextLength: 100 } } }]), /modelLoadSettings\.m\.contextLength: a context under 256 tokens/)
    await rejects('setSettings', [{ modelLoadSettings: { m: { provider: 'auto' } } }])
    await accepts('modelFit', ['SmolLM2-135M-Instruct', { context: 2048, variant: 'q4' }])
    await accepts('modelFit', ['SmolLM2-135M-Instruct', { variant: 'q4', kvDtype: 'float16' }])
    await rejects('modelFit', ['SmolLM2-135M-Instruct', { kvDtype: 'int8' }])
    await rejects('setSettings', [{ modelLoadSettings: { m: { kvDtype: 'int8' } } }])
    await rejects('modelFit', ['SmolLM2-135M-Instruct', { context: 2048, variant: 'q3' }])
    await rejects('modelFit', ['SmolLM2-135M-Instruct', { memory: 1 }])
  })

  it('rejects repository ids that are not owner/name', async () => {
    await rejects('startDownload', ['https://evil.example/x', 'q4'])
    await rejects('startDownload', ['owner/name/extra', 'q4'])
    await rejects('startDownload', ['owner/name', 'q3'])
  })

  it('refuses unknown methods', async () => {
    assert.match(await rejects('eval' as ApiMethod, []), /^BAD_REQUEST: Unknown method: eval/)
  })
})
