// Profile process: where one decode step's time goes at a given context, and what each session
// setting changes. The cache is filled with random values instead of prefilled (a step's cost
// does not depend on the values), and every timed step starts from that same cache.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { readModelConfig } from '../../src-main/engine/model-config.ts'
import { KvCache } from '../../src-main/engine/kv-cache.ts'
import { ModelSession } from '../../src-main/engine/session.ts'
import { median } from './stats.ts'

export interface ProfileJob {
  modelDir: string
  onnxFile: string
  context: number
  steps: number
  threads: number
}

export interface OpTime {
  op: string
  ms: number
}

export interface ProfileResult {
  context: number
  kvDtype: string
  /** Bytes of past plus present KV one step reads and returns. */
  kvBytes: number
  /** ModelSession#forward: the engine's whole step (feeds, run, cache swap, logits view). */
  engineStepMs: number
  /** session.run alone, the engine's session options (the first variant). */
  runMs: number
  /** Sum of kernel times per step, from onnxruntime's profiler. */
  kernelMs: number
  kernels: OpTime[]
  /** Allocating and filling buffers the size of every present.* output, in JS. */
  jsAllocCopyMs: number
  /** session.run per step under each variant of the session options. */
  variants: { name: string; runMs: number }[]
}

type Options = ort.InferenceSession.SessionOptions

const BASE: Options = {
  executionProviders: ['cpu'],
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
}

interface ProfileEvent {
  cat?: string
  name?: string
  dur?: number
  args?: { op_name?: string }
}

function randomTensor(type: 'float32' | 'float16', dims: number[]): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1)
  if (type === 'float16') {
    // Halves in [-1, 1): sign bit, exponent below 15, random mantissa.
    const data = Uint16Array.from({ length: n }, (_, i) => ((i & 1) << 15) | ((1 + (i % 14)) << 10) | (i * 2654435761) % 1024)
    return new ort.Tensor('float16', data, dims)
  }
  return new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i)), dims)
}

async function timeRuns(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, steps: number): Promise<number> {
  await session.run(feeds)
  await session.run(feeds)
  const times: number[] = []
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now()
    await session.run(feeds)
    times.push(performance.now() - t0)
  }
  return median(times)
}

export async function profileDecodeStep(job: ProfileJob): Promise<ProfileResult> {
  const file = path.join(job.modelDir, job.onnxFile)
  const config = await readModelConfig(job.modelDir)
  const opts = { ...BASE, intraOpNumThreads: job.threads }

  // Feeds for one decode step after `context` tokens, named and typed from the graph.
  const probe = await ort.InferenceSession.create(file, opts)
  const meta = new Map(probe.inputMetadata.map((m) => [m.name, m]))
  const kvMeta = probe.inputMetadata.find((m) => m.name.startsWith('past_key_values.'))
  const kvType = kvMeta?.isTensor && kvMeta.type === 'float16' ? 'float16' : 'float32'
  const C = job.context
  const pastDims = [1, config.kvHeads, C, config.headDim]
  const past = probe.inputNames.filter((n) => n.startsWith('past_key_values.')).map(() => randomTensor(kvType, pastDims))
  const int = (name: string, values: number[], dims: number[]): ort.Tensor => {
    const m = meta.get(name)
    return m?.isTensor && m.type === 'int32'
      ? new ort.Tensor('int32', Int32Array.from(values), dims)
      : new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims)
  }
  const feeds: Record<string, ort.Tensor> = { input_ids: int('input_ids', [42], [1, 1]) }
  if (meta.has('attention_mask')) feeds.attention_mask = int('attention_mask', new Array<number>(C + 1).fill(1), [1, C + 1])
  if (meta.has('position_ids')) feeds.position_ids = int('position_ids', [C], [1, 1])
  if (meta.has('num_logits_to_keep')) feeds.num_logits_to_keep = int('num_logits_to_keep', [1], [])
  probe.inputNames.filter((n) => n.startsWith('past_key_values.')).forEach((n, i) => (feeds[n] = past[i]!))
  await probe.release()
  const elementBytes = kvType === 'float16' ? 2 : 4
  const kvBytes = past.length * config.kvHeads * config.headDim * (2 * C + 1) * elementBytes

  // The engine's own step, from the same cache each time.
  const engine = await ModelSession.open(file, {
    provider: 'cpu',
    threads: job.threads,
    contextLength: config.contextLength,
    kvHeads: config.kvHeads,
    headDim: config.headDim,
    vocab: config.vocabSize,
  })
  const tokens = new Array<number>(C).fill(42)
  const engineTimes: number[] = []
  for (let s = 0; s < job.steps + 2; s++) {
    const kv = new KvCache([...past], [...tokens])
    const t0 = performance.now()
    await engine.forward(kv, [42], { logits: 'last' })
    if (s >= 2) engineTimes.push(performance.now() - t0)
  }
  await engine.release()

  // Kernel times from onnxruntime's profiler, averaged over the timed steps.
  const profDir = await mkdtemp(path.join(os.tmpdir(), 'hearth-profile-'))
  let kernels: OpTime[]
  try {
    const profiled = await ort.InferenceSession.create(file, { ...opts, enableProfiling: true, profileFilePrefix: path.join(profDir, 'p') })
    for (let s = 0; s < job.steps; s++) await profiled.run(feeds)
    profiled.endProfiling()
    await profiled.release()
    const name = (await readdir(profDir)).find((f) => f.endsWith('.json'))
    if (!name) throw new Error('onnxruntime wrote no profile')
    const events = JSON.parse(await readFile(path.join(profDir, name), 'utf8')) as ProfileEvent[]
    const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').length
    const byOp = new Map<string, number>()
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue
      const op = e.args?.op_name ?? 'unknown'
      byOp.set(op, (byOp.get(op) ?? 0) + (e.dur ?? 0) / 1000)
    }
    kernels = [...byOp].map(([op, ms]) => ({ op, ms: ms / runs })).sort((a, b) => b.ms - a.ms)
  } finally {
    await rm(profDir, { recursive: true, force: true })
  }

  // What the binding does with each output: a fresh buffer, filled.
  const presentSizes = past.map((t) => (t.size / C) * (C + 1))
  const copyTimes: number[] = []
  for (let s = 0; s < job.steps; s++) {
    const t0 = performance.now()
    for (let i = 0; i < past.length; i++) {
      const src = past[i]!.data as Float32Array | Uint16Array
      const dst = kvType === 'float16' ? new Uint16Array(presentSizes[i]!) : new Float32Array(presentSizes[i]!)
      dst.set(src)
    }
    copyTimes.push(performance.now() - t0)
  }

  const variantOptions: [string, Options][] = [
    ['engine options', opts],
    ['no spinning', { ...opts, extra: { session: { intra_op: { allow_spinning: '0' } } } }],
    ['optimization extended', { ...opts, graphOptimizationLevel: 'extended' }],
    ['optimization basic', { ...opts, graphOptimizationLevel: 'basic' }],
    ['1 thread', { ...opts, intraOpNumThreads: 1 }],
    ['no memory arena', { ...opts, enableCpuMemArena: false }],
  ]
  const variants: { name: string; runMs: number }[] = []
  for (const [name, o] of variantOptions) {
    const session = await ort.InferenceSession.create(file, o)
    variants.push({ name, runMs: await timeRuns(session, feeds, job.steps) })
    await session.release()
  }

  return {
    context: C,
    kvDtype: kvType,
    kvBytes,
    engineStepMs: median(engineTimes),
    runMs: variants[0]!.runMs,
    kernelMs: kernels.reduce((a, k) => a + k.ms, 0),
    kernels,
    jsAllocCopyMs: median(copyTimes),
    variants,
  }
}

export interface PrefillLeverJob {
  modelDir: string
  /** A graph with a num_logits_to_keep input, so one session can compute either way. */
  onnxFile: string
  tokens: number
  chunks: number[]
  threads: number
}

export interface PrefillLeverResult {
  tokens: number
  /** Whole prompt in one run: logits for every position vs the last one only. */
  allLogitsMs: number
  lastLogitsMs: number
  /** Last-position logits, prompt run in chunks of each size. */
  chunked: { chunk: number; ms: number }[]
}

/** Prefill time of `tokens` tokens with the engine's session options, each way, median of 2. */
export async function profilePrefill(job: PrefillLeverJob): Promise<PrefillLeverResult> {
  const file = path.join(job.modelDir, job.onnxFile)
  const config = await readModelConfig(job.modelDir)
  const session = await ort.InferenceSession.create(file, { ...BASE, intraOpNumThreads: job.threads })
  if (!session.inputNames.includes('num_logits_to_keep')) throw new Error(`${file} has no num_logits_to_keep input`)
  const pastNames = session.inputNames.filter((n) => n.startsWith('past_key_values.'))
  const run = async (chunk: number, keep: number): Promise<number> => {
    let past: ort.Tensor[] = pastNames.map(() => new ort.Tensor('float32', new Float32Array(0), [1, config.kvHeads, 0, config.headDim]))
    const t0 = performance.now()
    for (let start = 0; start < job.tokens; start += chunk) {
      const n = Math.min(chunk, job.tokens - start)
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(3 + ((start + i) * 7919) % 40000)), [1, n]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(start + n).fill(1n), [1, start + n]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)), [1, n]),
        num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(keep)), []),
      }
      pastNames.forEach((name, i) => (feeds[name] = past[i]!))
      const out = await session.run(feeds)
      past = pastNames.map((name) => out[name.replace('past_key_values', 'present')]!)
    }
    return performance.now() - t0
  }
  const best = async (chunk: number, keep: number) => median([await run(chunk, keep), await run(chunk, keep)])
  await run(16, 1)
  const result: PrefillLeverResult = {
    tokens: job.tokens,
    allLogitsMs: await best(job.tokens, 0),
    lastLogitsMs: await best(job.tokens, 1),
    chunked: [],
  }
  for (const chunk of job.chunks) result.chunked.push({ chunk, ms: await best(chunk, 1) })
  await session.release()
  return result
}

export type ProfileMessage = { kind: 'decode'; job: ProfileJob } | { kind: 'prefill'; job: PrefillLeverJob }

process.once('message', (m: ProfileMessage) => {
  ;(m.kind === 'decode' ? profileDecodeStep(m.job) : profilePrefill(m.job))
    .then((result) => ({ ok: true as const, result }))
    .catch((err: unknown) => ({ ok: false as const, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }))
    .then((outcome) => process.send?.(outcome, () => process.exit(0)))
})
