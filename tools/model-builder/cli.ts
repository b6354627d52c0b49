// `npm run model:tiny -- --out DIR [options]`: writes a random-weight model folder.

import { parseArgs } from 'node:util'
import { buildModel, SHAPES, type BuildOptions, type ShapeName } from './build-model.ts'

const USAGE = `usage: npm run model:tiny -- --out DIR [options]
  --shape tiny|smollm2-135m|qwen2.5-0.5b   real shapes for benchmarks (default tiny)
  --layers N --hidden N --heads N --kv-heads N --intermediate N --vocab N --context N
  --kv fp16            fp16 KV cache (default fp32)
  --ids int32          int32 input_ids (default int64)
  --no-position-ids    no position_ids input (the graph derives positions)
  --logits-to-keep     a num_logits_to_keep input
  --q4                 also write onnx/model_q4.onnx (int4 MatMulNBits)
  --seed N             weights seed (default 42)`

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    shape: { type: 'string' },
    layers: { type: 'string' },
    hidden: { type: 'string' },
    heads: { type: 'string' },
    'kv-heads': { type: 'string' },
    intermediate: { type: 'string' },
    vocab: { type: 'string' },
    context: { type: 'string' },
    kv: { type: 'string' },
    ids: { type: 'string' },
    'no-position-ids': { type: 'boolean' },
    'logits-to-keep': { type: 'boolean' },
    q4: { type: 'boolean' },
    seed: { type: 'string' },
    help: { type: 'boolean' },
  },
})

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`)
  process.exit(2)
}

function int(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a non-negative integer, got ${value}`)
  return n
}

if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
if (!values.out) fail('--out DIR is required')
if (values.shape !== undefined && !(values.shape in SHAPES)) fail(`unknown --shape ${values.shape}`)
if (values.kv !== undefined && values.kv !== 'fp16' && values.kv !== 'fp32') fail('--kv takes fp16 or fp32')
if (values.ids !== undefined && values.ids !== 'int32' && values.ids !== 'int64') fail('--ids takes int32 or int64')

const opts: Partial<BuildOptions> = {
  shape: values.shape as ShapeName | undefined,
  layers: int('layers', values.layers),
  hidden: int('hidden', values.hidden),
  heads: int('heads', values.heads),
  kvHeads: int('kv-heads', values['kv-heads']),
  intermediate: int('intermediate', values.intermediate),
  vocab: int('vocab', values.vocab),
  contextLength: int('context', values.context),
  kv: values.kv === 'fp16' ? 'float16' : values.kv === 'fp32' ? 'float32' : undefined,
  ids: values.ids as BuildOptions['ids'] | undefined,
  positionIds: values['no-position-ids'] ? false : undefined,
  logitsToKeep: values['logits-to-keep'] ? true : undefined,
  q4: values.q4 ? true : undefined,
  seed: int('seed', values.seed),
}

const started = performance.now()
try {
  await buildModel(values.out, opts)
} catch (err) {
  fail((err as Error).message)
}
console.log(`wrote ${values.out} in ${Math.round(performance.now() - started)} ms`)
