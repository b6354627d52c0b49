// Tests for the test-model builder: the Hugging Face layout, determinism, and the CLI.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import onnxProto from 'onnx-proto'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { quantizeQ4 } from '../../../tools/model-builder/quantize.ts'
import { inspectModelFolder } from '../../../src-main/model-format/model-folder.ts'
import { openSession } from '../../../src-main/engine/open-session.ts'

const { onnx } = onnxProto

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-builder-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('buildModel', () => {
  it('puts the special tokens out of reach in an endless model, and only there', async () => {
    const specialLogits = async (name: string, endless: boolean): Promise<number[]> => {
      const dir = path.join(root, name)
      await buildModel(dir, { endless, contextLength: 64 })
      const session = await openSession(path.join(dir, 'onnx', 'model.onnx'), {
        provider: 'cpu', threads: 1, contextLength: 64, kvHeads: 2, headDim: 16, vocab: 512,
      })
      const logits = await session.forward(session.emptyCache(), [1, 40, 41, 42], { logits: 'last' })
      const special = [0, 1, 2].map((id) => logits[id]!)
      await session.release()
      return special
    }
    for (const logit of await specialLogits('endless', true)) assert.ok(logit < -1000, `special logit ${logit}`)
    for (const logit of await specialLogits('ending', false)) assert.ok(logit > -1000, `special logit ${logit}`)
  })

  it('writes the Hugging Face ONNX layout with external data, a folder the inspector accepts', async () => {
    const dir = path.join(root, 'layout')
    await buildModel(dir, { q4: true })
    assert.deepEqual((await readdir(dir)).sort(), [
      'config.json',
      'generation_config.json',
      'onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ])
    assert.deepEqual((await readdir(path.join(dir, 'onnx'))).sort(), [
      'model.onnx',
      'model.onnx_data',
      'model_q4.onnx',
      'model_q4.onnx_data',
    ])
    const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'))
    assert.equal(config.num_hidden_layers, 2)
    assert.equal(config.tie_word_embeddings, true)
    const summary = await inspectModelFolder(dir)
    assert.ok(summary.valid, summary.valid ? '' : summary.reason)
    assert.deepEqual(summary.variants.map((v) => v.name).sort(), ['fp32', 'q4'])
    // Small enough for every test suite to build its own.
    const fp32 = summary.variants.find((v) => v.name === 'fp32')
    assert.ok(fp32 && fp32.bytes < 2_000_000, `fp32 variant is ${fp32?.bytes} bytes`)
  })

  it('writes the same bytes for the same seed and different weights for another', async () => {
    const weights = async (name: string, seed: number): Promise<Buffer> => {
      await buildModel(path.join(root, name), { seed })
      return readFile(path.join(root, name, 'onnx', 'model.onnx_data'))
    }
    const a = await weights('seed-a', 7)
    assert.deepEqual(await weights('seed-b', 7), a)
    assert.notDeepEqual(await weights('seed-c', 8), a)
  })

  it('rejects shapes that cannot make a model', async () => {
    await assert.rejects(buildModel(path.join(root, 'bad'), { hidden: 60, heads: 8 }), /even integer head size/)
    await assert.rejects(buildModel(path.join(root, 'bad'), { heads: 4, kvHeads: 3 }), /multiple of kv-heads/)
  })
})

describe('quantizeQ4', () => {
  it("scales each block by its value of largest magnitude over -8, sign kept, as onnxruntime's quantizer does", () => {
    // K = 64, N = 2, w[k * N + n]: column 0's first block peaks at +2, column 1's at -4; the rest is zero.
    const w = new Float32Array(64 * 2)
    w[0] = 2
    w[2] = -1.5
    w[4] = 0.3
    w[1] = -4
    w[3] = 3.5
    const { packed, scales, kBlocks } = quantizeQ4(w, 64, 2, 32)
    assert.equal(kBlocks, 2)
    // [N * kBlocks]; an all-zero block gets scale 0 (-0, as onnxruntime's 0 / -8 is): every weight 0.
    assert.deepEqual(Array.from(scales, (x) => x || 0), [-0.25, 0, 0.5, 0])
    const code = (n: number, k: number): number => (packed[(n * kBlocks * 32 + k) >> 1]! >> ((k & 1) * 4)) & 15
    // The extreme is code 0; w = (q - 8) * scale.
    assert.deepEqual([code(0, 0), code(0, 1), code(0, 2), code(0, 3)], [0, 14, 7, 8])
    assert.deepEqual([code(1, 0), code(1, 1), code(1, 2)], [0, 15, 8])
    assert.equal(code(0, 40), 8)
  })

  it("gives a tied model's q4 file its own quantized copy of the table as lm_head, the fp32 file none", async () => {
    const dir = path.join(root, 'q4-head')
    await buildModel(dir, { q4: true })
    const sizes = async (file: string): Promise<Map<string, number>> => {
      const graph = onnx.ModelProto.decode(await readFile(path.join(dir, 'onnx', file))).graph!
      return new Map(graph.initializer!.map((t) => [t.name!, (t.dims ?? []).reduce((a: number, b) => a * Number(b), 1)]))
    }
    const fp32 = await sizes('model.onnx')
    const q4 = await sizes('model_q4.onnx')
    assert.equal(fp32.has('lm_head.weight'), false)
    // 64 x 512 weights: 16 bytes a block of 32 along the hidden axis, one scale a block.
    assert.equal(q4.get('lm_head.weight.q4'), 512 * 2 * 16)
    assert.equal(q4.get('lm_head.weight.scales'), 512 * 2)
    assert.equal(q4.get('model.embed_tokens.weight'), 512 * 64)
  })
})

describe('npm run model:tiny', () => {
  it('builds a model folder with the options given on the command line', async () => {
    const dir = path.join(root, 'cli')
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'tools/model-builder/cli.ts', '--out', dir, '--layers', '3', '--kv', 'fp16', '--logits-to-keep'],
      { cwd: path.resolve(import.meta.dirname, '../../..') },
    )
    assert.match(stdout, /wrote .*cli in \d+ ms/)
    const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'))
    assert.equal(config.num_hidden_layers, 3)
    assert.equal(config['transformers.js_config'].kv_cache_dtype, 'float16')
    assert.ok((await stat(path.join(dir, 'onnx', 'model.onnx_data'))).size > 0)
  })
})
