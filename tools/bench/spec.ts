// `npm run bench -- spec`: what speculative decoding costs and gives (issue 17). The verification
// cost curve (one pass over k new tokens at 1024 context), acceptance on real text (stories260K),
// and decode tok/s with speculation off and on end to end, against the decode roofline.

import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as ort from 'onnxruntime-node'
import { loadModel } from '../../src-main/engine/load-model.ts'
import type { ShapeName } from '../model-builder/build-model.ts'
import { prepareModels, type BenchModel, type Precision } from './models.ts'
import { promptTokens } from './protocol.ts'
import { bestRoofline, defaultThreads, measureRoofline } from './roofline.ts'
import { renderSpecMarkdown } from './spec-markdown.ts'
import { evaluateAims, rotate, withRoofline, type CostCurve, type SpecReport } from './spec-report.ts'
import { median } from './stats.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CACHE = path.join(ROOT, '.cache', 'bench')
const PARTS = ['cost', 'acceptance', 'e2e'] as const
type Part = (typeof PARTS)[number]

const USAGE = `usage: npm run bench -- spec [options]

  --quick               about 5 minutes: smollm2-135m fp32 only, fewer rounds, 128-token replies
  --models LIST         shapes for the verification cost curve: smollm2-135m,qwen2.5-0.5b (default: both)
                        (end to end always runs at smollm2-135m, the shape the aims are stated at)
  --precisions LIST     fp32,q4 (default: both; --quick: fp32)
  --parts LIST          cost,acceptance,e2e (default: all)
  --threads N           engine threads (default: all cores)
  --tokens N            reply tokens per end-to-end generation (default 256; --quick: 128)
  --json FILE           write the report as JSON to FILE and Markdown beside it
                        (default: .cache/bench/results/spec.json)
  --publish             write to docs/bench/spec.json and spec.md`

/** Context the verification passes run at, and the pass widths timed there. */
const CONTEXT = 1024
const WIDTHS = [1, 2, 4, 8, 16]

function log(line: string): void {
  console.log(`[spec ${new Date().toISOString().slice(11, 19)}] ${line}`)
}

function list<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T[], flag: string): T[] {
  if (value === undefined) return fallback
  const items = value.split(',').map((s) => s.trim()) as T[]
  const bad = items.filter((s) => !allowed.includes(s))
  if (bad.length > 0) throw new Error(`--${flag}: unknown ${bad.join(', ')} (choose from ${allowed.join(', ')})\n${USAGE}`)
  return items
}

/**
 * One forward pass over k new tokens after a CONTEXT-token cache, for each k, as the engine runs
 * a verification (logits for every position). Each pass is cut back to CONTEXT after it, so every
 * one sees the same cache; the widths take turns going first over the rounds.
 */
export async function measureCostCurve(model: BenchModel, threads: number, rounds: number): Promise<CostCurve> {
  const curve: CostCurve = { model: model.name, context: CONTEXT, reps: rounds, kvUpdate: '', points: [] }
  const loaded = await loadModel(model.dir, { variant: model.precision, providers: ['cpu'], threads })
  const { session, prefillChunk, info } = loaded
  const kv = session.emptyCache()
  try {
    curve.kvUpdate = info.kvUpdate
    if (!info.multiTokenPass) throw new Error('the graph cannot take several new tokens over a cache')
    const fill = promptTokens(CONTEXT, model.vocab, 3)
    for (let i = 0; i < fill.length; i += prefillChunk) await session.forward(kv, fill.slice(i, i + prefillChunk), { logits: 'last' })
    const fresh = promptTokens(Math.max(...WIDTHS), model.vocab, 5)
    const pass = async (k: number): Promise<number> => {
      const started = performance.now()
      await session.forward(kv, fresh.slice(0, k), { logits: 'all' })
      const ms = performance.now() - started
      kv.truncate(CONTEXT)
      return ms
    }
    // The first pass past CONTEXT grows the cache once; every timed pass then sees the same room.
    for (const k of WIDTHS) await pass(k)
    const times = new Map<number, number[]>(WIDTHS.map((k) => [k, []]))
    for (let round = 0; round < rounds; round++) for (const k of rotate(WIDTHS, round)) times.get(k)!.push(await pass(k))
    const one = median(times.get(1)!)
    const minOne = Math.min(...times.get(1)!)
    curve.points = WIDTHS.map((k) => {
      const ms = median(times.get(k)!)
      const minMs = Math.min(...times.get(k)!)
      return { tokens: k, ms, minMs, vsOne: ms / one, minVsOne: minMs / minOne }
    })
  } catch (err) {
    curve.error = err instanceof Error ? err.message : String(err)
  } finally {
    kv.dispose()
    await session.release()
  }
  return curve
}

export async function runSpecBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean' },
      models: { type: 'string' },
      precisions: { type: 'string' },
      parts: { type: 'string' },
      threads: { type: 'string' },
      tokens: { type: 'string' },
      json: { type: 'string' },
      publish: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) return console.log(USAGE)
  const quick = values.quick ?? false
  const shapes = list<ShapeName>(values.models, ['smollm2-135m', 'qwen2.5-0.5b'], quick ? ['smollm2-135m'] : ['smollm2-135m', 'qwen2.5-0.5b'], 'models')
  const precisions = list<Precision>(values.precisions, ['fp32', 'q4'], quick ? ['fp32'] : ['fp32', 'q4'], 'precisions')
  const parts = list<Part>(values.parts, PARTS, [...PARTS], 'parts')
  const threads = values.threads ? Number(values.threads) : defaultThreads()
  const tokens = values.tokens ? Number(values.tokens) : quick ? 128 : 256
  if (!Number.isInteger(threads) || threads < 1) throw new Error('--threads takes a positive integer')
  if (!Number.isInteger(tokens) || tokens < 2) throw new Error('--tokens takes an integer of at least 2')
  const jsonFile = values.publish ? path.join(ROOT, 'docs', 'bench', 'spec.json') : path.resolve(values.json ?? path.join(CACHE, 'results', 'spec.json'))

  const report: SpecReport = {
    machine: {
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
      cores: os.availableParallelism(),
      platform: `${process.platform}-${process.arch}`,
      node: process.versions.node,
      onnxruntime: ort.env.versions.common,
      threads,
      date: new Date().toISOString().slice(0, 16).replace('T', ' '),
      loadAverage: [os.loadavg()[0]!, os.loadavg()[0]!],
    },
    quick,
    costCurves: [],
    acceptance: null,
    endToEnd: [],
    aims: [],
  }
  const models = async (shape: ShapeName): Promise<BenchModel[]> => prepareModels(path.join(CACHE, 'models'), shape, precisions, false, log)

  if (parts.includes('cost')) {
    for (const shape of shapes) {
      for (const model of await models(shape)) {
        log(`${model.name}: verification cost at ${CONTEXT} tokens of context`)
        report.costCurves.push(await measureCostCurve(model, threads, quick ? 15 : 25))
        await writeReport(jsonFile, report)
      }
    }
  }
  // The parts that decode through Engine#generate load it only when run: the cost curve needs
  // the session alone.
  if (parts.includes('acceptance')) {
    const { measureAcceptance } = await import('./spec-stories.ts')
    report.acceptance = await measureAcceptance({ threads, tokens: 160, log })
    await writeReport(jsonFile, report)
  }
  if (parts.includes('e2e')) {
    const { measureEndToEnd } = await import('./spec-e2e.ts')
    for (const model of await models('smollm2-135m')) {
      log(`${model.name}: roofline`)
      const before = await measureRoofline(threads, quick)
      const measured = await measureEndToEnd(model, { threads, tokens, rounds: quick ? 4 : 5, log })
      log(`${model.name}: roofline again`)
      const roofline = bestRoofline(before, await measureRoofline(threads, quick))
      report.endToEnd.push(withRoofline(measured, roofline))
      report.aims = evaluateAims(report.endToEnd)
      await writeReport(jsonFile, report)
    }
  }
  await writeReport(jsonFile, report)
  log(`wrote ${jsonFile} and its .md`)
  console.log(`\n${renderSpecMarkdown(report)}`)
}

/** Written after each part, so a long run that is stopped keeps what it measured. */
async function writeReport(jsonFile: string, report: SpecReport): Promise<void> {
  report.machine.loadAverage[1] = os.loadavg()[0]!
  await mkdir(path.dirname(jsonFile), { recursive: true })
  await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(jsonFile.replace(/\.json$/, '.md'), renderSpecMarkdown(report))
}
