// `npm run bench`: Hearth against its peers and the machine's limits, in one interleaved run.
// Subcommands: store, turns, sampler (their own benches), profile (where a decode step's and, with
// --engine, a prefill chunk's time goes),
// ppl (the trained fixture's perplexity at each precision the GGUF importer writes), gguf-check (the
// bench models' GGUFs imported and run beside the ONNX they were written from), spec (speculative
// decoding: verification cost, acceptance, speedup end to end), soak (browser mode and the API
// server under concurrent clients while the engine is killed at random), document (time to first
// token chatting with a document through the whole app: first question, follow-up, restart, new chat).

import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as ort from 'onnxruntime-node'
import type { ShapeName } from '../model-builder/build-model.ts'
import { renderSvg } from './chart.ts'
import { runJob } from './jobs.ts'
import { prepareModels, type Precision } from './models.ts'
import { ensurePeers } from './peers.ts'
import { FULL_PLAN, QUICK_PLAN, interleave, type Plan } from './plan.ts'
import { ENGINES, type EngineName } from './protocol.ts'
import { renderMarkdown, summarizeModel, type BenchReport, type Outcome } from './report.ts'
import { bestRoofline, defaultThreads, measureRoofline } from './roofline.ts'
import type { KvDtype } from '../../src-shared/types.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CACHE = path.join(ROOT, '.cache', 'bench')

const USAGE = `usage: npm run bench -- [options]
       npm run bench -- store|turns|sampler|profile|ppl|gguf-check|spec|soak|document|structured|gpu [their options]

  --quick               a few minutes: smollm2-135m fp32, prefill 128/512, decode @128/@1024
  --models LIST         smollm2-135m,qwen2.5-0.5b (default: both; --quick: smollm2-135m)
  --precisions LIST     fp32,q4 (default: fp32,q4; --quick: fp32)
  --engines LIST        hearth,transformers,llama.cpp (default: all)
  --threads N           threads for every engine (default: all cores)
  --chunk N             prefill tokens per pass for Hearth and llama.cpp (default: each one's own,
                        Hearth's engine policy and llama.cpp's batch of 512)
  --spinning on|off     Hearth's idle threads busy-wait or sleep (default: the engine's, off;
                        llama.cpp and transformers.js spin)
  --kv float32|float16  Hearth's KV cache type (default: the model's, float32; llama.cpp keeps f16)
  --logits-to-keep      build the models with a num_logits_to_keep input
  --json FILE           write the report as JSON to FILE, with FILE's .md and .svg beside it
                        (default: .cache/bench/results/bench.json)
  --publish             write to docs/bench/ (bench.json, bench.md, bench.svg) for the README`

type SubBench = (args: string[]) => Promise<void>

/** Benches owned by other areas, loaded by path so a missing one is a message, not a crash. */
async function subBench(file: string, exportName: string): Promise<SubBench> {
  const url = pathToFileURL(path.join(ROOT, 'tools', 'bench', file)).href
  const mod = (await import(url)) as Record<string, unknown>
  const fn = mod[exportName]
  if (typeof fn !== 'function') throw new Error(`tools/bench/${file} has no ${exportName}`)
  return async (args) => {
    const result: unknown = await (fn as (a: unknown) => unknown)(args)
    if (result !== undefined) console.log(JSON.stringify(result, null, 2))
  }
}

const SUBCOMMANDS: Record<string, () => Promise<SubBench>> = {
  store: () => subBench('store.ts', 'runStoreBench'),
  turns: () => subBench('turns.ts', 'runTurnsBench'),
  sampler: async () => {
    const mod = await import('./sampler.ts')
    return async () => console.log(JSON.stringify(mod.runSamplerBench(), null, 2))
  },
  profile: async () => (await import('./profile.ts')).runProfile,
  ppl: () => subBench('ppl.ts', 'runPplBench'),
  'gguf-check': () => subBench('gguf-check.ts', 'runGgufCheck'),
  spec: async () => (await import('./spec.ts')).runSpecBench,
  soak: async () => (await import('./soak.ts')).runSoakBench,
  document: async () => (await import('./document.ts')).runDocumentBench,
  structured: async () => (await import('./structured.ts')).runStructuredBench,
  gpu: async () => (await import('./gpu.ts')).runGpuBench,
}

function list<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T[], flag: string): T[] {
  if (value === undefined) return fallback
  const items = value.split(',').map((s) => s.trim()) as T[]
  const bad = items.filter((s) => !allowed.includes(s))
  if (bad.length > 0) throw new Error(`--${flag}: unknown ${bad.join(', ')} (choose from ${allowed.join(', ')})`)
  return items
}

function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`)
}

async function main(argv: string[]): Promise<void> {
  const sub = argv[0] && !argv[0].startsWith('-') ? argv[0] : null
  if (sub !== null) {
    const load = SUBCOMMANDS[sub]
    if (!load) throw new Error(`unknown subcommand ${sub}\n${USAGE}`)
    return (await load())(argv.slice(1))
  }
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      models: { type: 'string' },
      precisions: { type: 'string' },
      engines: { type: 'string' },
      threads: { type: 'string' },
      chunk: { type: 'string' },
      spinning: { type: 'string' },
      kv: { type: 'string' },
      'logits-to-keep': { type: 'boolean' },
      json: { type: 'string' },
      publish: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) return console.log(USAGE)
  const quick = values.quick ?? false
  const plan: Plan = quick ? QUICK_PLAN : FULL_PLAN
  const shapes = list<ShapeName>(values.models, ['smollm2-135m', 'qwen2.5-0.5b'], quick ? ['smollm2-135m'] : ['smollm2-135m', 'qwen2.5-0.5b'], 'models')
  const precisions = list<Precision>(values.precisions, ['fp32', 'q4'], quick ? ['fp32'] : ['fp32', 'q4'], 'precisions')
  const engines = list<EngineName>(values.engines, ENGINES, [...ENGINES], 'engines')
  const threads = values.threads ? Number(values.threads) : defaultThreads()
  const chunk = values.chunk ? Number(values.chunk) : 0
  if (!Number.isInteger(threads) || threads < 1) throw new Error('--threads takes a positive integer')
  if (!Number.isInteger(chunk) || chunk < 0) throw new Error('--chunk takes a positive integer')
  if (values.spinning !== undefined && values.spinning !== 'on' && values.spinning !== 'off') throw new Error('--spinning takes on or off')
  const spinning = values.spinning === 'on'
  if (values.kv !== undefined && values.kv !== 'float32' && values.kv !== 'float16') throw new Error('--kv takes float32 or float16')
  const kvDtype = values.kv as KvDtype | undefined
  const jsonFile = values.publish
    ? path.join(ROOT, 'docs', 'bench', 'bench.json')
    : path.resolve(values.json ?? path.join(CACHE, 'results', 'bench.json'))

  if (engines.some((e) => e !== 'hearth')) ensurePeers(log)
  const report: BenchReport = {
    machine: {
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
      cores: os.availableParallelism(),
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      platform: `${process.platform}-${process.arch}`,
      node: process.versions.node,
      onnxruntime: ort.env.versions.common,
      threads,
      hearthSpinning: spinning,
      ...(kvDtype ? { hearthKvDtype: kvDtype } : {}),
      date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    },
    quick,
    models: [],
  }
  for (const shape of shapes) {
    const models = await prepareModels(path.join(CACHE, 'models'), shape, precisions, values['logits-to-keep'] ?? false, log)
    for (const model of models) {
      log(`${model.name}: roofline`)
      const before = await measureRoofline(threads, quick)
      const outcomes: Outcome[] = []
      for (const { engine, task } of interleave(plan, engines)) {
        const what = task.kind === 'prefill' ? `prefill ${task.tokens}` : `${task.kind} @${task.context}`
        const started = performance.now()
        const outcome = await runJob(
          { engine, modelDir: model.dir, onnxFile: model.onnxFile, ggufFile: model.ggufFile, vocab: model.vocab, threads, chunk, spinning, ...(kvDtype ? { kvDtype } : {}), task },
          30 * 60_000,
        )
        const secs = ((performance.now() - started) / 1000).toFixed(0)
        log(`${model.name}: ${engine} ${what} ${outcome.ok ? 'done' : `FAILED: ${outcome.error.split('\n')[0]}`} (${secs} s)`)
        outcomes.push({ engine, task, outcome })
      }
      log(`${model.name}: roofline again`)
      const roofline = bestRoofline(before, await measureRoofline(threads, quick))
      report.models.push(summarizeModel(model, outcomes, roofline))
      await writeReport(jsonFile, report)
    }
  }
  log(`wrote ${jsonFile} and its .md and .svg`)
  console.log(`\n${renderMarkdown(report)}`)
}

/** Written after each model, so a long run that is stopped keeps what it measured. */
async function writeReport(jsonFile: string, report: BenchReport): Promise<void> {
  await mkdir(path.dirname(jsonFile), { recursive: true })
  const base = jsonFile.replace(/\.json$/, '')
  await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(`${base}.md`, renderMarkdown(report))
  await writeFile(`${base}.svg`, renderSvg(report))
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exitCode = 1
})
