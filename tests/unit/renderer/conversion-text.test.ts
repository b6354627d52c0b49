// The library's words for a converted model: where it came from, what became of its tensors, how far requantizing moved them.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ConversionInfo } from '../../../src-shared/types.ts'
import { conversionError, conversionSummary } from '../../../src-renderer/lib/conversion-text.ts'

const STORIES: ConversionInfo = {
  source: 'stories260K.gguf',
  architecture: 'llama',
  sourceTypes: { F32: 48 },
  variant: 'fp32',
  floatTensors: 36,
  exactTensors: 0,
  requantizedTensors: 0,
  maxAbsError: null,
  rmsError: null,
  notes: [],
}

const K_QUANT: ConversionInfo = {
  ...STORIES,
  source: 'SmolLM2-135M-Instruct-Q4_K_M.gguf',
  sourceTypes: { F32: 61, Q6_K: 25, Q4_K: 186 },
  variant: 'q4',
  floatTensors: 61,
  exactTensors: 0,
  requantizedTensors: 211,
  maxAbsError: 0.0123456,
  rmsError: 0.000987654,
}

describe('conversionSummary', () => {
  it('names the file, the architecture, the source tensor types (most first) and what was written', () => {
    assert.equal(conversionSummary(STORIES), 'Converted from stories260K.gguf (llama, 48 F32 tensors) as fp32 — 36 float, 0 exact, 0 requantized')
    assert.equal(
      conversionSummary(K_QUANT),
      'Converted from SmolLM2-135M-Instruct-Q4_K_M.gguf (llama, 186 Q4_K, 61 F32, 25 Q6_K tensors) as q4 — 61 float, 0 exact, 211 requantized',
    )
  })
})

describe('conversionError', () => {
  it('states the error only when weights were requantized, to three significant digits', () => {
    assert.equal(conversionError(STORIES), null)
    assert.equal(conversionError(K_QUANT), "Requantized weights differ from the GGUF's by at most 0.0123, RMS 0.000988")
    assert.equal(conversionError({ ...K_QUANT, rmsError: null }), "Requantized weights differ from the GGUF's by at most 0.0123")
  })
})
