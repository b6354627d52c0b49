// Profile process: where one decode step's time goes at a given context, and what each session
// setting changes. The cache is filled with random values instead of prefilled (a step's cost
// does not depend on the values), and every timed step starts from that same cache.

import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import type { KvDtype } from '../../src-shared/types.ts'
import { readModelConfig } from '../../src-main/model-format/model-config.ts'
import { KvCache } from '../../src-main/engine/kv-cache.ts'
import { openSession } from '../../src-main/engine/open-session.ts'
import { kvSlotOf, NAMES, PAST, presentName } from '../../src-main/engine/signature.ts'
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
  /** ModelSession#forward: the engine's whole step (feeds, run, cache update, logits view). */
  engineStepMs: number
  /** How the engine's session updates the cache ('split' / 'append' / 'copy'). */
  engineKvUpdate: string
  /** The same step with the export as it is (kvUpdate 'copy'): the whole cache out and copied. */
  copyStepMs: number
  /** What the engine's session fused at load, and the same step with nothing fused. */
  engineFusions: string[]
  unfusedStepMs: number
  /** session.run alone, the engine's session options (the first variant). */
  runMs: number
  /** The profiled session's run as JS sees it, and as onnxruntime's profiler times it (model_run). */
  profiledWallMs: number
  modelRunMs: number
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
  ts?: number
  dur?: number
  args?: { op_name?: string }
}

interface RunProfile {
  modelRunMs: number
  kernelMs: number
  byOp: Map<string, number>
}

const WARMUP = 2

/** Groups kernel events under the model_run that contains them (events are in microseconds). */
export function splitRuns(events: readonly ProfileEvent[]): RunProfile[] {
  const runs = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run')
    .map((e) => ({ start: e.ts ?? 0, end: (e.ts ?? 0) + (e.dur ?? 0), profile: { modelRunMs: (e.dur ?? 0) / 1000, kernelMs: 0, byOp: new Map<string, number>() } }))
    .sort((a, b) => a.start - b.start)
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || e.ts === undefined) continue
    const run = runs.find((r) => e.ts! >= r.start && e.ts! <= r.end)
    if (!run) continue
    const ms = (e.dur ?? 0) / 1000
    const op = e.args?.op_name ?? 'unknown'
    run.profile.kernelMs += ms
    run.profile.byOp.set(op, (run.profile.byOp.get(op) ?? 0) + ms)
  }
  return runs.map((r) => r.profile)
}

function randomTensor(type: KvDtype, dims: number[]): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1)
  if (type === 'float16') {
    // Halves in [-1, 1): sign bit, exponent below 15, random mantissa.
    const data = Uint16Array.from({ length: n }, (_, i) => ((i & 1) << 15) | ((1 + (i % 14)) << 10) | (i * 2654435761) % 1024)
    return new ort.Tensor('float16', data, dims)
  }
  return new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i)), dims)
}

export async function profileDecodeStep(job: ProfileJob): Promise<ProfileResult> {
  const file = path.join(job.modelDir, job.onnxFile)
  const config = await readModelConfig(job.modelDir)
  const opts = { ...BASE, intraOpNumThreads: job.threads }

  // Feeds for one decode step after `context` tokens, named and typed from the graph.
  const probe = await ort.InferenceSession.create(file, opts)
  const meta = new Map(probe.inputMetadata.map((m) => [m.name, m]))
  const kvMeta = probe.inputMetadata.find((m) => PAST.test(m.name))
  const kvType = kvMeta?.isTensor && kvMeta.type === 'float16' ? 'float16' : 'float32'
  const C = job.context
  const pastDims = [1, config.kvHeads, C, config.headDim]
  const pastNames = probe.inputNames.filter((n) => PAST.test(n))
  const past = pastNames.map(() => randomTensor(kvType, pastDims))
  const int = (name: string, values: number[], dims: number[]): ort.Tensor => {
    const m = meta.get(name)
    return m?.isTensor && m.type === 'int32'
      ? new ort.Tensor('int32', Int32Array.from(values), dims)
      : new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims)
  }
  const feeds: Record<string, ort.Tensor> = { [NAMES.inputIds]: int(NAMES.inputIds, [42], [1, 1]) }
  if (meta.has(NAMES.attentionMask)) feeds[NAMES.attentionMask] = int(NAMES.attentionMask, new Array<number>(C + 1).fill(1), [1, C + 1])
  if (meta.has(NAMES.positionIds)) feeds[NAMES.positionIds] = int(NAMES.positionIds, [C], [1, 1])
  if (meta.has(NAMES.numLogitsToKeep)) feeds[NAMES.numLogitsToKeep] = int(NAMES.numLogitsToKeep, [1], [])
  pastNames.forEach((n, i) => (feeds[n] = past[i]!))
  await probe.release()
  const elementBytes = kvType === 'float16' ? 2 : 4
  const kvBytes = past.length * config.kvHeads * config.headDim * (2 * C + 1) * elementBytes

  const variantOptions: [string, Options][] = [
    ['engine options', opts],
    ['no spinning', { ...opts, extra: { session: { intra_op: { allow_spinning: '0' } } } }],
    ['optimization extended', { ...opts, graphOptimizationLevel: 'extended' }],
    ['optimization basic', { ...opts, graphOptimizationLevel: 'basic' }],
    ['1 thread', { ...opts, intraOpNumThreads: 1 }],
    ['no memory arena', { ...opts, enableCpuMemArena: false }],
  ]
  // Every contender is opened first and then timed round-robin, so load from other processes
  // falls on all of them alike; each figure is a median over rounds, warm-up rounds dropped.
  const engineOptions = {
    provider: 'cpu' as const,
    threads: job.threads,
    contextLength: config.contextLength,
    kvHeads: config.kvHeads,
    headDim: config.headDim,
    vocab: config.vocabSize,
  }
  const engine = await openSession(file, engineOptions)
  const copying = await openSession(file, { ...engineOptions, kvUpdate: 'copy' })
  const unfused = await openSession(file, { ...engineOptions, fuse: false })
  const profDir = await mkdtemp(path.join(os.tmpdir(), 'hearth-profile-'))
  const profiled = await ort.InferenceSession.create(file, { ...opts, enableProfiling: true, profileFilePrefix: path.join(profDir, 'p') })
  const sessions: ort.InferenceSession[] = []
  for (const [, o] of variantOptions) sessions.push(await ort.InferenceSession.create(file, o))

  const tokens = new Array<number>(C).fill(42)
  const presentSizes = past.map((t) => (t.size / C) * (C + 1))
  const engineTimes: number[] = []
  const copyStepTimes: number[] = []
  const unfusedTimes: number[] = []
  // The engine's cache, with room to grow as Engine#generate reserves it; cut back after each step.
  const kv = new KvCache([...past], [...tokens])
  engine.reserve(kv, C + 1)
  const kvUnfused = new KvCache([...past], [...tokens])
  unfused.reserve(kvUnfused, C + 1)
  const profiledWall: number[] = []
  const copyTimes: number[] = []
  const variantTimes = variantOptions.map((): number[] => [])
  const time = async (into: number[], round: number, f: () => Promise<unknown> | unknown): Promise<void> => {
    const t0 = performance.now()
    await f()
    if (round >= WARMUP) into.push(performance.now() - t0)
  }
  for (let round = 0; round < job.steps + WARMUP; round++) {
    // The engine's own step, from the same cache each time (truncate moves nothing in place).
    await time(engineTimes, round, () => engine.forward(kv, [42], { logits: 'last' }))
    kv.truncate(C)
    await time(unfusedTimes, round, () => unfused.forward(kvUnfused, [42], { logits: 'last' }))
    kvUnfused.truncate(C)
    await time(copyStepTimes, round, () => copying.forward(new KvCache([...past], [...tokens]), [42], { logits: 'last' }))
    const t0 = performance.now()
    await profiled.run(feeds)
    profiledWall.push(performance.now() - t0)
    for (let v = 0; v < sessions.length; v++) await time(variantTimes[v]!, round, () => sessions[v]!.run(feeds))
    // What the binding does with each output: a fresh buffer, filled.
    await time(copyTimes, round, () => {
      for (let i = 0; i < past.length; i++) {
        const dst = kvType === 'float16' ? new Uint16Array(presentSizes[i]!) : new Float32Array(presentSizes[i]!)
        dst.set(past[i]!.data as Float32Array & Uint16Array)
      }
    })
  }
  await engine.release()
  await copying.release()
  await unfused.release()
  for (const session of sessions) await session.release()
  profiled.endProfiling()
  await profiled.release()

  let runs: RunProfile[]
  try {
    const name = (await readdir(profDir)).find((f) => f.endsWith('.json'))
    if (!name) throw new Error('onnxruntime wrote no profile')
    runs = splitRuns(JSON.parse(await readFile(path.join(profDir, name), 'utf8')) as ProfileEvent[]).slice(WARMUP)
  } finally {
    await rm(profDir, { recursive: true, force: true })
  }
  const ops = new Set(runs.flatMap((r) => [...r.byOp.keys()]))
  const kernels = [...ops]
    .map((op) => ({ op, ms: median(runs.map((r) => r.byOp.get(op) ?? 0)) }))
    .sort((a, b) => b.ms - a.ms)
  const variants = variantOptions.map(([name], v) => ({ name, runMs: median(variantTimes[v]!) }))

  return {
    context: C,
    kvDtype: kvType,
    kvBytes,
    engineStepMs: median(engineTimes),
    engineKvUpdate: engine.kvUpdate,
    copyStepMs: median(copyStepTimes),
    engineFusions: engine.fusions,
    unfusedStepMs: median(unfusedTimes),
    runMs: variants[0]!.runMs,
    profiledWallMs: median(profiledWall.slice(WARMUP)),
    modelRunMs: median(runs.map((r) => r.modelRunMs)),
    kernelMs: median(runs.map((r) => r.kernelMs)),
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
  if (!session.inputNames.includes(NAMES.numLogitsToKeep)) throw new Error(`${file} has no ${NAMES.numLogitsToKeep} input`)
  const pastNames = session.inputNames.filter((n) => PAST.test(n))
  const presentNames = session.inputNames.flatMap((n) => kvSlotOf(n, PAST) ?? []).map((s) => presentName(s.layer, s.role))
  const run = async (chunk: number, keep: number): Promise<number> => {
    let past: ort.Tensor[] = pastNames.map(() => new ort.Tensor('float32', new Float32Array(0), [1, config.kvHeads, 0, config.headDim]))
    const t0 = performance.now()
    for (let start = 0; start < job.tokens; start += chunk) {
      const n = Math.min(chunk, job.tokens - start)
      const feeds: Record<string, ort.Tensor> = {
        [NAMES.inputIds]: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(3 + ((start + i) * 7919) % 40000)), [1, n]),
        [NAMES.attentionMask]: new ort.Tensor('int64', new BigInt64Array(start + n).fill(1n), [1, start + n]),
        [NAMES.positionIds]: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)), [1, n]),
        [NAMES.numLogitsToKeep]: new ort.Tensor('int64', BigInt64Array.of(BigInt(keep)), []),
      }
      pastNames.forEach((name, i) => (feeds[name] = past[i]!))
      const out = await session.run(feeds)
      past = presentNames.map((name) => out[name]!)
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

export interface EngineProfileJob {
  modelDir: string
  /** onnx/model.onnx or onnx/model_q4.onnx. */
  onnxFile: string
  /** Tokens prefilled (in the engine's chunks) before the profiled decode steps. */
  context: number
  chunk: number
  steps: number
  threads: number
  int8Activations: boolean
}

export interface PhaseProfile {
  /** The pass as JS sees it (ModelSession#forward), and onnxruntime's model_run and kernel sum of it. */
  wallMs: number
  modelRunMs: number
  kernelMs: number
  kernels: OpTime[]
}

export interface EngineProfileResult {
  precision: string
  context: number
  chunk: number
  kvUpdate: string
  fusions: string[]
  int8Activations: boolean
  /** A full chunk of the prefill (medians over the full chunks after the first). */
  prefillChunk: PhaseProfile
  /** One decode step after the prefill (medians over the steps after warm-up). */
  decode: PhaseProfile
}

function phase(runs: RunProfile[], wall: number[]): PhaseProfile {
  const ops = new Set(runs.flatMap((r) => [...r.byOp.keys()]))
  return {
    wallMs: median(wall),
    modelRunMs: median(runs.map((r) => r.modelRunMs)),
    kernelMs: median(runs.map((r) => r.kernelMs)),
    kernels: [...ops].map((op) => ({ op, ms: median(runs.map((r) => r.byOp.get(op) ?? 0)) })).sort((a, b) => b.ms - a.ms),
  }
}

/**
 * The engine's own session (rewritten, fused, verified, as loadModel opens it) under onnxruntime's
 * profiler: `context` tokens prefilled in chunks, then `steps` decode steps. The profiler adds
 * ~20 us to every kernel, so its times are longer than the engine's: read the shares.
 */
export async function profileEngine(job: EngineProfileJob): Promise<EngineProfileResult> {
  const config = await readModelConfig(job.modelDir)
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hearth-profile-'))
  try {
    const session = await openSession(path.join(job.modelDir, job.onnxFile), {
      provider: 'cpu',
      threads: job.threads,
      contextLength: config.contextLength,
      kvHeads: config.kvHeads,
      headDim: config.headDim,
      vocab: config.vocabSize,
      int8Activations: job.int8Activations,
      profileFilePrefix: path.join(dir, 'engine'),
    })
    const kv = session.emptyCache()
    const prefillWall: number[] = []
    for (let start = 0; start < job.context; start += job.chunk) {
      const n = Math.min(job.chunk, job.context - start)
      const ids = Array.from({ length: n }, (_, i) => 3 + (((start + i) * 7919) % (config.vocabSize - 3)))
      const t0 = performance.now()
      await session.forward(kv, ids, { logits: 'last' })
      if (n === job.chunk) prefillWall.push(performance.now() - t0)
    }
    const decodeWall: number[] = []
    for (let step = 0; step < job.steps + WARMUP; step++) {
      const t0 = performance.now()
      await session.forward(kv, [42 + step], { logits: 'last' })
      if (step >= WARMUP) decodeWall.push(performance.now() - t0)
    }
    session.endProfiling()
    const { kvUpdate, fusions, int8Activations } = session
    await session.release()
    // The kept session's file is written last (the load's rejected attempts wrote theirs on release).
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'))
    const stats = await Promise.all(files.map(async (f) => ({ f, t: (await stat(path.join(dir, f))).mtimeMs })))
    const newest = stats.sort((a, b) => b.t - a.t)[0]
    if (!newest) throw new Error('onnxruntime wrote no profile')
    const runs = splitRuns(JSON.parse(await readFile(path.join(dir, newest.f), 'utf8')) as ProfileEvent[])
    // The last runs are this job's: chunks, then steps; the load's verification passes come before.
    const chunks = Math.ceil(job.context / job.chunk)
    if (runs.length < chunks + job.steps + WARMUP) throw new Error(`the profile holds ${runs.length} runs, fewer than this job made`)
    const decodeRuns = runs.slice(runs.length - job.steps)
    const prefillEnd = runs.length - job.steps - WARMUP
    // Full chunks after the first (which starts from an empty cache), or the first if it is the only one.
    const fullRuns = runs.slice(prefillEnd - chunks, prefillEnd).slice(0, prefillWall.length)
    const laterFull = <T>(xs: T[]): T[] => (xs.length > 1 ? xs.slice(1) : xs)
    return {
      precision: job.onnxFile.includes('q4') ? 'q4' : 'fp32',
      context: job.context,
      chunk: job.chunk,
      kvUpdate,
      fusions,
      int8Activations,
      prefillChunk: phase(laterFull(fullRuns), laterFull(prefillWall)),
      decode: phase(decodeRuns, decodeWall),
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export type ProfileMessage =
  | { kind: 'decode'; job: ProfileJob }
  | { kind: 'prefill'; job: PrefillLeverJob }
  | { kind: 'engine'; job: EngineProfileJob }

process.once('message', (m: ProfileMessage) => {
  ;(m.kind === 'decode' ? profileDecodeStep(m.job) : m.kind === 'prefill' ? profilePrefill(m.job) : profileEngine(m.job))
    .then((result) => ({ ok: true as const, result }))
    .catch((err: unknown) => ({ ok: false as const, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }))
    .then((outcome) => process.send?.(outcome, () => process.exit(0)))
})
