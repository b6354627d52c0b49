// npm run bench -- structured: what constrained decoding costs. The engine alone (in this process)
// on a random-weight model of a real shape decodes the same request free and kept to a JSON Schema,
// round after round, the order alternating; the ratio of decode speeds is the grammar's overhead
// (the aim: at most 10%). The first constrained request's set-up (the vocabulary read into
// XGrammar, the schema compiled) is reported apart: it is paid once per model and schema.

import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as ort from 'onnxruntime-node'
import type { ResponseFormat } from '../../src-shared/types.ts'
import { Engine } from '../../src-main/engine/engine.ts'
import type { GenerateRequest, GenerateResult } from '../../src-main/model-format/protocol.ts'
import { SHAPES, type ShapeName } from '../model-builder/build-model.ts'
import { benchModel } from './document.ts'
import { median } from './stats.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CACHE = path.join(ROOT, '.cache', 'bench')
const AIM = 0.1

const USAGE = `usage: npm run bench -- structured [options]
  --shape NAME     smollm2-135m (default), qwen2.5-0.5b or tiny: a random-weight model of that shape
  --tokens N       tokens decoded per reply (default 64)
  --repeat N       rounds, each a free and a constrained reply (default 8)
  --publish        write docs/bench/structured.json and structured.md (default .cache/bench/results/)`

/** A string field the model fills freely: the reply runs to its token limit, so decode is measured at length. */
const SCHEMA = {
  type: 'object',
  properties: { title: { type: 'string' }, rating: { enum: [1, 2, 3, 4, 5] }, notes: { type: 'string' } },
  required: ['title', 'rating', 'notes'],
  additionalProperties: false,
}

interface Pair {
  free: number
  constrained: number
  freeTokens: number
  constrainedTokens: number
}

export async function runStructuredBench(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { shape: { type: 'string' }, tokens: { type: 'string' }, repeat: { type: 'string' }, publish: { type: 'boolean' }, help: { type: 'boolean' } } })
  if (values.help) return console.log(USAGE)
  const shape = (values.shape ?? 'smollm2-135m') as ShapeName
  if (!(shape in SHAPES)) throw new Error(`unknown --shape ${shape}\n${USAGE}`)
  const tokens = Number(values.tokens ?? 64)
  const repeat = Number(values.repeat ?? 8)
  if (!Number.isInteger(tokens) || tokens < 8 || !Number.isInteger(repeat) || repeat < 1) throw new Error(USAGE)
  const modelsDir = path.join(CACHE, 'document-models')
  await benchModel(modelsDir, shape)

  const engine = new Engine()
  const info = await engine.load(path.join(modelsDir, shape))
  const format: ResponseFormat = { type: 'json_schema', schema: SCHEMA }
  const run = (seed: number, responseFormat?: ResponseFormat): Promise<GenerateResult> => {
    const request: GenerateRequest = {
      messages: [{ role: 'user', content: 'Review the last book you read as JSON.' }],
      params: { temperature: 0.8, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, maxTokens: tokens, seed },
      // Both plain: speculation is off for constrained replies, so it is off for the free ones too.
      speculate: false,
      ...(responseFormat ? { responseFormat } : {}),
    }
    return engine.generate(request, () => undefined, () => false)
  }
  try {
    await run(0)
    // The same constrained request twice: the first sets the grammar up, the second finds it ready.
    let started = performance.now()
    await run(0, format)
    const firstWallMs = performance.now() - started
    started = performance.now()
    await run(0, format)
    const steadyWallMs = performance.now() - started
    const setupMs = firstWallMs - steadyWallMs
    const pairs: Pair[] = []
    for (let r = 0; r < repeat; r++) {
      const seed = r + 1
      const order = r % 2 === 0 ? [undefined, format] : [format, undefined]
      const results = new Map<string, GenerateResult>()
      for (const f of order) results.set(f ? 'constrained' : 'free', await run(seed, f))
      const free = results.get('free')!.stats
      const constrained = results.get('constrained')!.stats
      pairs.push({ free: free.decodeTokensPerSecond, constrained: constrained.decodeTokensPerSecond, freeTokens: free.generatedTokens, constrainedTokens: constrained.generatedTokens })
      console.error(`[structured] round ${r + 1}: free ${free.decodeTokensPerSecond.toFixed(1)} tok/s, constrained ${constrained.decodeTokensPerSecond.toFixed(1)} tok/s (${constrained.generatedTokens} tokens)`)
    }
    const ratios = pairs.map((p) => p.constrained / p.free)
    const overhead = 1 / median(ratios) - 1
    // Cut at the token limit inside its free text, as the measured replies are.
    const sample = (await run(99, format)).text
    const report = {
      machine: { cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU', cores: os.availableParallelism(), node: process.versions.node, onnxruntime: ort.env.versions.common, date: new Date().toISOString().slice(0, 16).replace('T', ' '), loadAverage: os.loadavg()[0]! },
      model: { shape, provider: info.provider, variant: info.variant, threads: info.threads, vocab: SHAPES[shape].vocab },
      options: { tokens, repeat, schema: SCHEMA },
      setupMs: Math.round(setupMs),
      steadyRequestMs: Math.round(steadyWallMs),
      pairs,
      medians: { free: median(pairs.map((p) => p.free)), constrained: median(pairs.map((p) => p.constrained)), ratio: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
      overhead,
      aimMet: overhead <= AIM,
      sample,
    }
    const dir = values.publish ? path.join(ROOT, 'docs', 'bench') : path.join(CACHE, 'results')
    await mkdir(dir, { recursive: true })
    await writeFile(path.join(dir, 'structured.json'), `${JSON.stringify(report, null, 2)}\n`)
    await writeFile(path.join(dir, 'structured.md'), markdown(report))
    console.log(markdown(report))
  } finally {
    await engine.unload()
  }
}

function markdown(r: {
  machine: { cpu: string; cores: number; node: string; onnxruntime: string; date: string; loadAverage: number }
  model: { shape: string; provider: string; variant: string; threads: number; vocab: number }
  options: { tokens: number; repeat: number }
  setupMs: number
  medians: { free: number; constrained: number; ratio: number; min: number; max: number }
  overhead: number
  aimMet: boolean
  sample: string
}): string {
  const m = r.machine
  return [
    '# Constrained decoding',
    '',
    `${m.date}, ${m.cpu} (${m.cores} cores), Node ${m.node}, onnxruntime-node ${m.onnxruntime}, load average ${m.loadAverage.toFixed(1)}. ` +
      `A random-weight model of the ${r.model.shape} shape (vocabulary ${r.model.vocab}), ${r.model.provider} ${r.model.variant}, ${r.model.threads} threads; ` +
      `the engine alone, ${r.options.repeat} rounds of the same request (${r.options.tokens} tokens, temperature 0.8, a seed per round, speculation off) ` +
      'decoded free and kept to a JSON Schema with free-text fields, the order alternating; every figure from this one run.',
    '',
    '| | decode tok/s (median) |',
    '|---|---:|',
    `| free | ${r.medians.free.toFixed(1)} |`,
    `| kept to the schema | ${r.medians.constrained.toFixed(1)} |`,
    '',
    `Constrained over free, paired by round: ${r.medians.ratio.toFixed(3)}x (${r.medians.min.toFixed(3)}-${r.medians.max.toFixed(3)}): ` +
      `an overhead of **${(r.overhead * 100).toFixed(1)}%** against the aim of at most ${AIM * 100}% (${r.aimMet ? 'met' : '**not met**'}). ` +
      `Once per model and schema, the first constrained request also spent ${r.setupMs} ms setting up (the vocabulary read into XGrammar, the schema compiled).`,
    '',
    `A constrained reply (random weights, so random words in the schema's shape; cut at the token limit): \`${r.sample.replace(/\s+/g, ' ').slice(0, 200)}\``,
    '',
  ].join('\n')
}
