// Tests for inspectModelFolder and chooseVariant on hand-written folders (no real weights needed).

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { chooseVariant, inspectModelFolder } from '../../../src-main/model-format/model-folder.ts'
import type { ModelVariant } from '../../../src-shared/types.ts'

const CONFIG = {
  model_type: 'llama',
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  hidden_size: 64,
  intermediate_size: 128,
  vocab_size: 300,
  max_position_embeddings: 512,
  tie_word_embeddings: true,
  eos_token_id: 2,
}
const ONNX_BYTES = Buffer.from([0x08, 0x08, 0x12, 0x00])

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-folder-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

async function folder(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = path.join(root, name)
  const all: Record<string, string | Buffer> = {
    'config.json': JSON.stringify(CONFIG),
    'generation_config.json': JSON.stringify({ eos_token_id: [2, 5] }),
    'tokenizer.json': JSON.stringify({ model: { type: 'BPE' } }),
    'tokenizer_config.json': JSON.stringify({ chat_template: '{{ messages }}' }),
    'onnx/model.onnx': ONNX_BYTES,
    ...files,
  }
  for (const [file, content] of Object.entries(all)) {
    if (content === '') continue
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true })
    await writeFile(path.join(dir, file), content)
  }
  return dir
}

describe('inspectModelFolder', () => {
  it('lists every variant with the bytes of the graph and its external data chunks', async () => {
    const dir = await folder('variants', {
      'onnx/model.onnx_data': Buffer.alloc(100),
      'onnx/model_q4.onnx': ONNX_BYTES,
      'onnx/model_q4.onnx_data': Buffer.alloc(10),
      'onnx/model_q4.onnx_data_1': Buffer.alloc(20),
      'onnx/model_quantized.onnx': ONNX_BYTES,
      'onnx/decoder_model_merged_fp16.onnx': ONNX_BYTES,
      'onnx/model.onnx.bak': 'x',
    })
    const summary = await inspectModelFolder(dir)
    assert.equal(summary.valid, true, summary.valid ? '' : summary.reason)
    if (!summary.valid) return
    const byName = Object.fromEntries(summary.variants.map((v) => [v.name, v]))
    assert.deepEqual(Object.keys(byName).sort(), ['fp16', 'fp32', 'q4', 'q8'])
    assert.equal(byName.fp32?.bytes, 104)
    assert.equal(byName.q4?.bytes, 34)
    assert.equal(byName.q4?.file, 'onnx/model_q4.onnx')
    assert.equal(byName.fp16?.file, 'onnx/decoder_model_merged_fp16.onnx')
    assert.equal(summary.headDim, 16)
    assert.equal(summary.contextLength, 512)
    // embeddings 300*64 + 2 layers * (attention 64*16*(8+4) + mlp 3*64*128 + norms 128) + final norm 64
    assert.equal(summary.parameters, 300 * 64 + 2 * (64 * 16 * 12 + 3 * 64 * 128 + 128) + 64)
  })

  it('prefers model_* over decoder_model_merged_* for the same variant', async () => {
    const dir = await folder('both', { 'onnx/decoder_model_merged.onnx': ONNX_BYTES })
    const summary = await inspectModelFolder(dir)
    assert.ok(summary.valid)
    assert.deepEqual(summary.variants.map((v) => v.file), ['onnx/model.onnx'])
  })

  const invalid: [string, Record<string, string | Buffer>, RegExp][] = [
    ['a missing config.json', { 'config.json': '' }, /config\.json is missing/],
    ['a corrupt config.json', { 'config.json': '{"model_type": ' }, /config\.json is not valid JSON/],
    [
      'a config without shapes',
      { 'config.json': JSON.stringify({ model_type: 'llama', vocab_size: 10 }) },
      /config\.json lacks num_hidden_layers, num_attention_heads, hidden_size/,
    ],
    [
      'a context no machine holds',
      { 'config.json': JSON.stringify({ ...CONFIG, max_position_embeddings: 1e9 }) },
      /max_position_embeddings \(1000000000\) is past the longest context Hearth runs/,
    ],
    ['a corrupt generation_config.json', { 'generation_config.json': 'nope' }, /generation_config\.json is not valid JSON/],
    ['a missing tokenizer.json', { 'tokenizer.json': '' }, /tokenizer\.json is missing/],
    ['a tokenizer without a model', { 'tokenizer.json': '{}' }, /tokenizer\.json has no "model"/],
    ['no chat template', { 'tokenizer_config.json': '{}' }, /no chat_template/],
    ['no onnx file', { 'onnx/model.onnx': '' }, /no ONNX model file/],
    ['a corrupt onnx file', { 'onnx/model.onnx': 'garbage' }, /onnx\/model\.onnx is not an ONNX model/],
    [
      'a declared external data chunk that is missing',
      {
        'config.json': JSON.stringify({
          ...CONFIG,
          'transformers.js_config': { use_external_data_format: { 'model.onnx': 2 } },
        }),
        'onnx/model.onnx_data': Buffer.alloc(4),
      },
      /needs external data onnx\/model\.onnx_data_1, which is missing/,
    ],
  ]
  for (const [what, files, reason] of invalid) {
    it(`reports ${what} as invalid with a specific reason`, async () => {
      const dir = await folder(what.replace(/\W+/g, '-'), files)
      const summary = await inspectModelFolder(dir)
      assert.equal(summary.valid, false)
      if (summary.valid) return
      assert.match(summary.reason, reason)
      assert.equal(summary.dir, dir)
    })
  }

  it('reports a path that is not a folder', async () => {
    const summary = await inspectModelFolder(path.join(root, 'does-not-exist'))
    assert.equal(summary.valid, false)
    assert.match(summary.valid ? '' : summary.reason, /is not a folder/)
  })
})

describe('chooseVariant', () => {
  const v = (name: ModelVariant['name']): ModelVariant => ({ name, file: `onnx/${name}.onnx`, bytes: 1 })
  const all = [v('fp32'), v('fp16'), v('q8'), v('q4'), v('q4f16')]

  it('prefers int4 on the CPU, then int8, then fp32', () => {
    assert.equal(chooseVariant(all, 'cpu').name, 'q4')
    assert.equal(chooseVariant([v('fp32'), v('q8'), v('fp16')], 'cpu').name, 'q8')
    assert.equal(chooseVariant([v('fp16'), v('fp32')], 'cpu').name, 'fp32')
  })

  it('prefers fp16 on GPU providers', () => {
    assert.equal(chooseVariant(all, 'webgpu').name, 'fp16')
    assert.equal(chooseVariant([v('q4'), v('fp32')], 'cuda').name, 'fp32')
  })

  it('honours an override and names what exists when the override does not', () => {
    assert.equal(chooseVariant(all, 'cpu', 'fp16').name, 'fp16')
    assert.throws(() => chooseVariant([v('fp32'), v('q4')], 'cpu', 'bnb4'), {
      code: 'NOT_FOUND',
      message: /no bnb4 variant \(it has: fp32, q4\)/,
    })
  })
})
