// Tests for per-provider fallback.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AppError } from '../../../src-shared/errors.ts'
import type { ProviderName } from '../../../src-shared/types.ts'
import { openWithFallback } from '../../../src-main/engine/providers.ts'

describe('openWithFallback', () => {
  const failing = (ok: ProviderName) => async (p: ProviderName) => {
    if (p !== ok) throw new Error(`no ${p} device\nstack`)
    return `session on ${p}`
  }

  it('uses the first provider that opens and records why the others did not', async () => {
    const result = await openWithFallback(['dml', 'webgpu', 'cpu'], 'm', failing('cpu'))
    assert.equal(result.value, 'session on cpu')
    assert.equal(result.provider, 'cpu')
    assert.deepEqual(result.attempts, [
      { provider: 'dml', ok: false, reason: 'no dml device' },
      { provider: 'webgpu', ok: false, reason: 'no webgpu device' },
      { provider: 'cpu', ok: true },
    ])
  })

  it('blames the model file when even the CPU cannot open it', async () => {
    await assert.rejects(openWithFallback(['webgpu', 'cpu'], 'onnx/model.onnx', failing('dml')), {
      code: 'MODEL_INVALID',
      message: 'onnx/model.onnx could not be loaded: no cpu device',
    })
  })

  it('names every provider and its reason when only GPU providers were asked for', async () => {
    await assert.rejects(openWithFallback(['webgpu'], 'm', failing('cpu')), {
      code: 'MODEL_UNSUPPORTED',
      message: /webgpu: no webgpu device/,
    })
  })

  it('stops at an error about the model itself', async () => {
    let tried = 0
    const open = async () => {
      tried++
      throw new AppError('MODEL_TOO_BIG', 'too big')
    }
    await assert.rejects(openWithFallback(['webgpu', 'cpu'], 'm', open), { code: 'MODEL_TOO_BIG' })
    assert.equal(tried, 1)
  })
})
