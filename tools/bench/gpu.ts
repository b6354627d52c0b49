// `npm run bench -- gpu`: the GPU path proved on whatever GPU this machine has. The SmolLM2-135M
// shape in fp16 and q4f16 (and fp32) on WebGPU and CUDA through the engine's own loadModel: greedy
// tokens against the CPU's, prefill and decode tok/s, the provider the engine used, and whether the
// KV cache stayed on the device. tools/bench/gpu-run.sh runs it on a machine with nothing installed.

import { execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import * as ort from 'onnxruntime-node'
import type { VariantName } from '../../src-shared/types.ts'
import type { KvCache } from '../../src-main/engine/kv-cache.ts'
import { loadModel, type LoadedModel } from '../../src-main/engine/load-model.ts'
import { knownUnavailable } from '../../src-main/engine/providers.ts'
import { writeFp16Model } from './gpu-fp16.ts'
import { agreement, classifyFailure, judge, logitsDiff, penalizedArgmax, renderGpuMarkdown, type GpuReport, type ProviderOutcome, type RunResult, type Speed } from './gpu-report.ts'
import { prepareModels } from './models.ts'
import { argmax, promptTokens } from './protocol.ts'
import { median } from './stats.ts'

const USAGE = `usage: npm run bench -- gpu [options]     (from the repository root)
  --providers LIST   webgpu,cuda (default: both)
  --variants LIST    fp16,q4f16,fp32 (default: all three)
  --tokens N         greedy tokens compared with the CPU (default 64)
  --prefill LIST     prompt lengths timed (default 128,512)
  --steps N          decode steps timed after a 128-token prompt (default 64)
  --threads N        CPU threads (default: the engine's)
  --json FILE        report as JSON, FILE's .md beside it (default .cache/bench/results/gpu.json)
  --prepare          write .gpu-kit/ for a GPU machine without internet or Node (tools/bench/gpu-run.sh)
exit status: 0 a GPU provider ran and held its checks, 1 a check failed, 2 no GPU provider could run`

/** The CPU run each GPU variant is compared with: onnxruntime's CPU kernels have no fp16 MatMul. */
const REFERENCE: Record<string, VariantName> = { fp16: 'fp32', fp32: 'fp32', q4f16: 'q4' }
const PROMPT = 32
/** penalizedArgmax's: a random model's plain greedy reply repeats one token, which compares nothing. */
const PENALTY = 2

interface Greedy {
  variant: VariantName
  tokens: number[]
  /** The prompt's last-position logits. */
  logits: Float32Array
}

function log(line: string): void {
  console.log(`[gpu ${new Date().toISOString().slice(11, 19)}] ${line}`)
}

export async function runGpuBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      providers: { type: 'string' }, variants: { type: 'string' }, tokens: { type: 'string' }, prefill: { type: 'string' },
      steps: { type: 'string' }, threads: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean' }, prepare: { type: 'boolean' },
    },
  })
  if (values.help) return console.log(USAGE)
  if (values.prepare) return (await import('./gpu-kit.ts')).prepareGpuKit(process.cwd(), log)
  const providers = list(values.providers, ['webgpu', 'cuda'] as const, 'providers')
  const variants = list(values.variants, ['fp16', 'q4f16', 'fp32'] as const, 'variants')
  const tokens = positive(values.tokens ?? '64', 'tokens')
  const prefillSizes = (values.prefill ?? '128,512').split(',').map((s) => positive(s, 'prefill'))
  const steps = positive(values.steps ?? '64', 'steps')
  const threads = values.threads === undefined ? undefined : positive(values.threads, 'threads')
  const root = process.cwd()
  // loadModel judges a model against free memory; a microVM's starts low and grows as it is used
  // (device README), and this 135M model fits any machine the check runs on.
  const base = { ...(threads ? { threads } : {}), memoryLimitBytes: os.totalmem() }
  const jsonFile = path.resolve(values.json ?? path.join(root, '.cache', 'bench', 'results', 'gpu.json'))

  const [model] = await prepareModels(path.join(root, '.cache', 'bench', 'models'), 'smollm2-135m', ['fp32', 'q4'], false, log)
  const dir = model!.dir
  for (const [from, to] of [['model.onnx', 'model_fp16.onnx'], ['model_q4.onnx', 'model_q4f16.onnx']] as const) {
    if (!variants.includes(to === 'model_fp16.onnx' ? 'fp16' : 'q4f16')) continue
    const src = path.join(dir, 'onnx', from)
    const dst = path.join(dir, 'onnx', to)
    if (existsSync(dst) && statSync(dst).mtimeMs >= statSync(src).mtimeMs) continue
    log(`writing onnx/${to} from onnx/${from}`)
    writeFp16Model(dir, `onnx/${from}`, `onnx/${to}`)
  }

  const report: GpuReport = {
    machine: {
      gpu: gpuName(),
      cpu: `${os.cpus()[0]?.model.trim() ?? 'unknown CPU'} ×${os.availableParallelism()}`,
      node: process.versions.node,
      onnxruntime: ort.env.versions.common,
      platform: `${process.platform}-${process.arch}`,
      date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    },
    tokens,
    penalty: PENALTY,
    cpu: [],
    providers: [],
    verdict: { exitCode: 2, summary: 'not finished' },
  }
  const save = async (): Promise<void> => {
    report.verdict = judge(report.providers)
    await mkdir(path.dirname(jsonFile), { recursive: true })
    await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`)
    await writeFile(jsonFile.replace(/\.json$/, '.md'), renderGpuMarkdown(report, prefillSizes))
  }
  const bench: BenchSetup = { vocab: model!.vocab, tokens, prefillSizes, steps }

  const references = new Map<VariantName, Greedy>()
  for (const variant of new Set(variants.map((v) => REFERENCE[v]!))) {
    log(`cpu ${variant}: reference`)
    const started = performance.now()
    const loaded = await loadModel(dir, { ...base, providers: ['cpu'], variant })
    const { result, greedy } = await measure(loaded, performance.now() - started, 'cpu', variant, null, bench, true)
    references.set(variant, greedy)
    report.cpu.push(result)
    await save()
  }
  // The fp16 files on the CPU (onnxruntime casts around its fp32 kernels): what rounding alone does.
  for (const variant of variants.filter((v) => REFERENCE[v] !== v)) {
    log(`cpu ${variant}: rounding alone`)
    const started = performance.now()
    const loaded = await loadModel(dir, { ...base, providers: ['cpu'], variant })
    report.cpu.push((await measure(loaded, performance.now() - started, 'cpu', variant, references.get(REFERENCE[variant]!)!, bench, false)).result)
    await save()
  }

  const vulkanLoader = hasVulkanLoader()
  for (const provider of providers) {
    const outcome: ProviderOutcome = { provider, runs: [], failures: [] }
    report.providers.push(outcome)
    for (const variant of variants) {
      log(`${provider} ${variant}`)
      const unavailable = knownUnavailable(provider)
      if (unavailable) {
        outcome.failures.push({ variant, ...classifyFailure(provider, unavailable, { vulkanLoader }) })
        continue
      }
      let loaded: LoadedModel
      const started = performance.now()
      try {
        loaded = await loadModel(dir, { ...base, providers: [provider], variant })
      } catch (err) {
        // loadModel's error names each provider it tried: the reason is what follows "webgpu: ".
        const message = err instanceof Error ? err.message : String(err)
        outcome.failures.push({ variant, ...classifyFailure(provider, message.replace(/^.*?\(\w+: /, '').replace(/\)$/, ''), { vulkanLoader }) })
        continue
      }
      try {
        const reference = references.get(REFERENCE[variant]!)!
        outcome.runs.push((await measure(loaded, performance.now() - started, provider, variant, reference, bench, true)).result)
      } catch (err) {
        outcome.failures.push({ variant, kind: 'failed', reason: `ran, then: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` })
      }
      const last = outcome.runs.at(-1)
      if (last?.variant === variant) log(`${provider} ${variant}: on ${last.providerUsed}, greedy ${last.agreement?.agreed}/${tokens} equal, decode ${last.speed?.decode.toFixed(1)} tok/s, KV ${last.kv}`)
      else log(`${provider} ${variant}: ${outcome.failures.at(-1)?.reason}`)
      await save()
    }
  }
  await save()
  console.log(`\n${renderGpuMarkdown(report, prefillSizes)}`)
  log(`wrote ${jsonFile} and its .md`)
  process.exitCode = report.verdict.exitCode
}

interface BenchSetup {
  vocab: number
  tokens: number
  prefillSizes: number[]
  steps: number
}

/** Greedy tokens from the fixed prompt, then (when `timed`) the timings; releases the session. */
async function measure(
  loaded: LoadedModel,
  loadMs: number,
  provider: RunResult['provider'],
  variant: VariantName,
  reference: Greedy | null,
  bench: BenchSetup,
  timed: boolean,
): Promise<{ result: RunResult; greedy: Greedy }> {
  const { session, info } = loaded
  const chunk = Number.isFinite(loaded.prefillChunk) ? loaded.prefillChunk : Number.MAX_SAFE_INTEGER
  const locations = new Set<string>()
  const look = (kv: KvCache): void => {
    for (const t of kv.tensors) locations.add(t.location)
  }
  const prefill = async (kv: KvCache, prompt: number[]): Promise<Float32Array> => {
    let logits: Float32Array | null = null
    for (let i = 0; i < prompt.length; i += chunk) logits = await session.forward(kv, prompt.slice(i, i + chunk), { logits: 'last' })
    look(kv)
    return logits!
  }
  try {
    const kv = session.emptyCache()
    // forward's logits are a buffer the next pass reuses: keep a copy.
    const first = (await prefill(kv, promptTokens(PROMPT, bench.vocab, 5))).slice()
    const seen = new Set<number>()
    const tokens = [penalizedArgmax(first, seen, PENALTY)]
    while (tokens.length < bench.tokens) {
      seen.add(tokens.at(-1)!)
      tokens.push(penalizedArgmax(await session.forward(kv, [tokens.at(-1)!], { logits: 'last' }), seen, PENALTY))
      look(kv)
    }
    kv.dispose()
    const speed = timed ? await time(session, prefill, bench, look) : null
    const onDevice = locations.has('gpu-buffer')
    const result: RunResult = {
      provider,
      variant,
      providerUsed: info.provider,
      referenceVariant: reference?.variant ?? variant,
      agreement: reference ? agreement(reference.tokens, tokens) : null,
      firstLogits: reference ? logitsDiff(reference.logits, first) : null,
      speed,
      kv: onDevice && locations.size === 1 ? 'device' : onDevice ? 'mixed' : 'host',
      kvUpdate: info.kvUpdate,
      loadMs,
      notes: info.kvUpdateNotes,
    }
    return { result, greedy: { variant, tokens, logits: first } }
  } finally {
    await session.release()
  }
}

/** Prefill tok/s at each size (best of 3 after a warm-up), decode tok/s (median step after 128 tokens). */
async function time(
  session: LoadedModel['session'],
  prefill: (kv: KvCache, prompt: number[]) => Promise<Float32Array>,
  bench: BenchSetup,
  look: (kv: KvCache) => void,
): Promise<Speed> {
  const speed: Speed = { prefill: {}, decode: 0 }
  const warm = session.emptyCache()
  await prefill(warm, promptTokens(16, bench.vocab, 1))
  warm.dispose()
  for (const n of bench.prefillSizes) {
    let best = Infinity
    for (let r = 0; r < 3; r++) {
      const kv = session.emptyCache()
      const start = performance.now()
      await prefill(kv, promptTokens(n, bench.vocab, 11 + r))
      best = Math.min(best, performance.now() - start)
      kv.dispose()
    }
    speed.prefill[n] = (n / best) * 1000
  }
  const kv = session.emptyCache()
  let token = argmax(await prefill(kv, promptTokens(128, bench.vocab, 3)))
  const stepMs: number[] = []
  for (let s = 0; s < bench.steps; s++) {
    const start = performance.now()
    token = argmax(await session.forward(kv, [token], { logits: 'last' }))
    stepMs.push(performance.now() - start)
    look(kv)
  }
  kv.dispose()
  speed.decode = 1000 / median(stepMs)
  return speed
}

/** Whether the dynamic loader finds libvulkan.so.1 (WebGPU's Dawn loads it by that name). */
function hasVulkanLoader(): boolean {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)
  if (dirs.some((d) => existsSync(path.join(d, 'libvulkan.so.1')))) return true
  try {
    return execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).includes('libvulkan.so.1')
  } catch {
    return existsSync('/usr/lib/x86_64-linux-gnu/libvulkan.so.1')
  }
}

function gpuName(): string {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000 }).trim()
  } catch {
    return 'no NVIDIA GPU seen (nvidia-smi absent or failed)'
  }
}

function list<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T[] {
  if (value === undefined) return [...allowed]
  const items = value.split(',').map((s) => s.trim()) as T[]
  const bad = items.filter((s) => !allowed.includes(s))
  if (bad.length > 0) throw new Error(`--${flag}: unknown ${bad.join(', ')} (choose from ${allowed.join(', ')})`)
  return items
}

function positive(value: string, flag: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} takes a positive integer, got ${value}`)
  return n
}
