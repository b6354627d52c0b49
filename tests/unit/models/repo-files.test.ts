import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { HubFile } from '../../../src-main/models/hub.ts'
import { filesForVariant, listRemoteVariants } from '../../../src-main/models/repo-files.ts'

function listing(sizes: Record<string, number>): HubFile[] {
  return Object.entries(sizes).map(([path, size]) => ({ path, size, sha256: null, gitOid: null }))
}

const METADATA = { 'config.json': 1, 'tokenizer.json': 10, 'tokenizer_config.json': 2, 'generation_config.json': 1 }

describe('listRemoteVariants', () => {
  it('counts external data chunks _data, _data_1, … into the variant, in order', () => {
    const files = listing({
      ...METADATA,
      'onnx/model_q4f16.onnx': 100,
      'onnx/model_q4f16.onnx_data_1': 300,
      'onnx/model_q4f16.onnx_data': 200,
      'onnx/model_q4.onnx': 50,
      'README.md': 5,
    })
    const variants = listRemoteVariants(files)
    const q4f16 = variants.find((v) => v.name === 'q4f16')
    assert.deepEqual(q4f16?.files.map((f) => f.path), [
      'onnx/model_q4f16.onnx',
      'onnx/model_q4f16.onnx_data',
      'onnx/model_q4f16.onnx_data_1',
    ])
    assert.equal(q4f16?.bytes, 600)
    assert.equal(variants.find((v) => v.name === 'q4')?.bytes, 50)
  })

  it('maps file suffixes to variant names and prefers model* over decoder_model_merged*', () => {
    const files = listing({
      'onnx/decoder_model_merged_quantized.onnx': 7,
      'onnx/model_quantized.onnx': 5,
      'onnx/decoder_model_merged_fp16.onnx': 9,
      'onnx/model.onnx': 3,
      'onnx/model.onnx.data': 30,
    })
    const byName = Object.fromEntries(listRemoteVariants(files).map((v) => [v.name, v.file]))
    assert.deepEqual(byName, {
      fp32: 'onnx/model.onnx',
      q8: 'onnx/model_quantized.onnx',
      fp16: 'onnx/decoder_model_merged_fp16.onnx',
    })
    assert.equal(listRemoteVariants(files).find((v) => v.name === 'fp32')?.bytes, 33)
  })
})

describe('filesForVariant', () => {
  it('takes the metadata that exists plus the variant, and nothing of other variants', () => {
    const files = listing({
      ...METADATA,
      'special_tokens_map.json': 1,
      'merges.txt': 100,
      'onnx/model.onnx': 1,
      'onnx/model.onnx_data': 1000,
      'onnx/model_q4.onnx': 40,
    })
    assert.deepEqual(
      filesForVariant('org/m', files, 'q4').map((f) => f.path),
      ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json', 'onnx/model_q4.onnx'],
    )
  })

  it('names the variants a repository has when the one asked for is missing', () => {
    const files = listing({ ...METADATA, 'onnx/model_q4.onnx': 1, 'onnx/model_fp16.onnx': 1 })
    assert.throws(() => filesForVariant('org/m', files, 'q8'), {
      code: 'NOT_FOUND',
      message: 'org/m has no q8 variant (it has: fp16, q4)',
    })
  })

  it('explains a repository with no ONNX export or without a tokenizer', () => {
    assert.throws(() => filesForVariant('org/pt', listing({ ...METADATA, 'model.safetensors': 9 }), 'q4'), {
      code: 'NOT_FOUND',
      message: /org\/pt has no ONNX export/,
    })
    assert.throws(() => filesForVariant('org/m', listing({ 'config.json': 1, 'onnx/model_q4.onnx': 1 }), 'q4'), {
      code: 'MODEL_INVALID',
      message: 'org/m lacks tokenizer.json, tokenizer_config.json, so it cannot be run',
    })
  })
})
