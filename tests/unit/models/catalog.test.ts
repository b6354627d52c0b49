import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fitCatalogEntry, loadCatalog, parseCatalog } from '../../../src-main/models/catalog.ts'

describe('loadCatalog', () => {
  const catalog = loadCatalog()

  it('offers the curated models, each with at least one variant', () => {
    assert.deepEqual(catalog.map((e) => e.repo), [
      'HuggingFaceTB/SmolLM2-135M-Instruct',
      'HuggingFaceTB/SmolLM2-360M-Instruct',
      'HuggingFaceTB/SmolLM2-1.7B-Instruct',
      'onnx-community/Qwen2.5-0.5B-Instruct',
      'onnx-community/Qwen2.5-1.5B-Instruct',
      'onnx-community/Llama-3.2-1B-Instruct',
      'onnx-community/Phi-3.5-mini-instruct-onnx-web',
    ])
  })

  it('names variant files the way the downloader looks for them: the .onnx, then _data chunks', () => {
    const suffix = { fp32: '', fp16: '_fp16', q8: '_quantized', int8: '_int8', uint8: '_uint8', q4: '_q4', q4f16: '_q4f16', bnb4: '_bnb4' }
    for (const entry of catalog) {
      for (const variant of entry.variants) {
        const onnx = `onnx/model${suffix[variant.name]}.onnx`
        const chunks = variant.files.slice(1).map((_, i) => (i === 0 ? `${onnx}_data` : `${onnx}_data_${i}`))
        assert.deepEqual(variant.files, [onnx, ...chunks], `${entry.repo} ${variant.name}`)
      }
    }
  })
})

describe('parseCatalog', () => {
  it('points at the first malformed field', () => {
    const bad = { version: 1, models: [{ ...loadCatalog()[0], kvHeads: 0 }] }
    assert.throws(() => parseCatalog(bad), { code: 'INTERNAL', message: /malformed at models\.0\.kvHeads/ })
  })
})

describe('fitCatalogEntry', () => {
  it('recommends q4 for SmolLM2 135M on 8 GB and finds Phi-3.5 will not fit in 2 GB', () => {
    const [smol] = loadCatalog()
    const phi = loadCatalog().find((e) => e.repo.includes('Phi-3.5'))
    assert.ok(smol && phi)
    const eightGb = { totalRam: 8e9, availableRam: 6e9, gpuMemory: null }
    assert.equal(fitCatalogEntry(smol, 4096, eightGb).chosen.variant, 'q4')
    assert.equal(fitCatalogEntry(smol, 4096, eightGb).chosen.verdict, 'fits')
    assert.equal(fitCatalogEntry(phi, 4096, { totalRam: 2e9, availableRam: 1.5e9, gpuMemory: null }).chosen.verdict, 'wont-fit')
  })
})
