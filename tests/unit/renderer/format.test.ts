// The renderer's number formats, as the model library shows them.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { formatParameters, formatRate } from '../../../src-renderer/lib/format.ts'

describe('formatParameters', () => {
  it('gives each model size its unit, with a decimal only below ten of it', () => {
    const cases: [number, string][] = [
      [512, '512'],
      [4_200, '4.2K'],
      [260_000, '260K'],
      [1_000_000, '1M'],
      [1_240_000, '1.2M'],
      [134_515_008, '135M'],
      [494_032_768, '494M'],
      [1_543_714_304, '1.5B'],
      [7_615_616_512, '7.6B'],
      [70_553_706_496, '71B'],
      [9_990, '10K'],
    ]
    assert.deepEqual(cases.map(([n]) => formatParameters(n)), cases.map(([, s]) => s))
  })
})

describe('formatRate', () => {
  it('groups the thousands of a fast rate and keeps a decimal for a slow one', () => {
    const cases: [number, string][] = [
      [1193.4, '1,193'],
      [100, '100'],
      [18.44, '18.4'],
    ]
    assert.deepEqual(cases.map(([n]) => formatRate(n)), cases.map(([, s]) => s))
  })
})
