// Tests for the provider order and thread count a load uses by default.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { defaultProviders, defaultThreads } from '../../../src-main/model-format/provider-defaults.ts'

describe('defaultProviders', () => {
  it('puts each platform’s GPU providers before the CPU', () => {
    assert.deepEqual(defaultProviders('win32'), ['dml', 'webgpu', 'cpu'])
    assert.deepEqual(defaultProviders('darwin'), ['coreml', 'webgpu', 'cpu'])
    assert.deepEqual(defaultProviders('linux'), ['cuda', 'webgpu', 'cpu'])
  })
})

describe('defaultThreads', () => {
  it('uses every core of a small machine and half of a large one, at most 8', () => {
    assert.deepEqual([1, 2, 4, 8, 12, 32].map((n) => defaultThreads(n)), [1, 2, 4, 4, 6, 8])
  })
})
