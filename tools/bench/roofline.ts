// The machine's limits, measured in the same run as the engines: memory read bandwidth (decode's
// bound) and fp32 matmul throughput (prefill's bound), each the best of several witnesses, so an
// engine that reads or multiplies faster than one witness is still below the best of them; beside
// them the CPU's theoretical peak (cpu-peak.ts), which a witness passes only where the cores run
// above the clock it assumes.

import { readFileSync } from 'node:fs'
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import onnxProto from 'onnx-proto'
import { cpuPeak, type CpuPeak } from './cpu-peak.ts'

const { onnx } = onnxProto
const FLOAT = onnx.TensorProto.DataType.FLOAT
const UINT8 = onnx.TensorProto.DataType.UINT8
const INT64 = onnx.TensorProto.DataType.INT64
const ATTR_FLOAT = 1
const ATTR_INT = 2

export type MatmulKernel = 'MatMul' | 'Gemm' | 'FusedMatMul'

/** One matmul witness: a chain of projections x[m, k] -> [m, n] -> [m, k] -> ... in one run. */
export interface MatmulWitness {
  /** MatMul with w[k, n]; Gemm with transB and w[n, k]; FusedMatMul (com.microsoft). */
  kernel: MatmulKernel
  m: number
  k: number
  n: number
  /** Projections per run, alternating k -> n and n -> k, so one run's fixed cost is shared. */
  depth: number
  /** intra-op threads; spinning as onnxruntime's default (on) or as Hearth runs (off). */
  threads: number
  spinning: boolean
  flopsPerSecond: number
}

export interface RooflineFigures {
  /** Best of the bandwidth witnesses, bytes/s. */
  readBytesPerSecond: number
  /** onnxruntime ReduceSum over a tensor far larger than the caches (best of whole and per-row), bytes/s. */
  ortReadBytesPerSecond: number
  /** One worker thread per benchmark thread summing its own Float64Array, bytes/s. */
  jsReadBytesPerSecond: number
  /** One row through a 256 MiB fp32 weight (a decode step's shape), MatMul or Gemm with transB, bytes/s. */
  gemvReadBytesPerSecond: number
  /** One row through a MatMulNBits 4-bit weight, its packed codes and scales per second (older reports lack it). */
  q4GemvReadBytesPerSecond?: number
  /** fp32 matmul FLOP/s: the best witness in `matmulWitnesses`. */
  matmulFlopsPerSecond: number
  /** Every matmul witness tried, the best first (older reports lack it). */
  matmulWitnesses?: MatmulWitness[]
  /** The CPU's theoretical fp32 peak for the bench's threads; null where cpuinfo is unreadable (older reports lack it). */
  peak?: CpuPeak | null
  threads: number
}

/** The prefill shapes (k, n) of SmolLM2-135M and Qwen2.5-0.5B (q/o and gate/up), and a square one. */
const PROJECTIONS: [number, number][] = [
  [576, 576],
  [576, 1536],
  [896, 896],
  [896, 4864],
  [2048, 2048],
]
/** A prompt shorter than the engine's prefill chunk, the chunk (256), and a longer pass. */
const ROWS = [128, 256, 512]

function modelBytes(graph: onnxProto.onnx.IGraphProto): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'hearth-bench',
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph,
  })
  return onnx.ModelProto.encode(model).finish()
}

function floatInput(name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }))
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim } } } }
}

function sessionOptions(threads: number, spinning = true): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionProviders: ['cpu'],
    extra: { session: { intra_op: { allow_spinning: spinning ? '1' : '0' } } },
  }
}

/** Uniform in [-scale, scale) from a seeded generator: real-looking weights, never denormals. */
function randomFloats(count: number, scale: number, seed: number): Float32Array {
  const a = new Float32Array(count)
  let s = seed >>> 0 || 1
  for (let i = 0; i < count; i++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    a[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 2 * scale
  }
  return a
}

/**
 * Least seconds of `reps` calls after one warm-up: other processes only ever add time, so the
 * fastest run is the closest to what the machine can do, as the engines' best repeat is.
 */
async function fastestRun(reps: number, run: () => Promise<unknown>): Promise<number> {
  await run()
  let best = Infinity
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now()
    await run()
    best = Math.min(best, (performance.now() - t0) / 1000)
  }
  return best
}

/** ReduceSum over x, as one row or as rows (x's length a multiple of rows), bytes/s. */
export async function measureOrtRead(threads: number, x: Float32Array, reps: number, rows = 1): Promise<number> {
  const cols = Math.floor(x.length / rows)
  const session = await ort.InferenceSession.create(
    modelBytes({
      name: 'read',
      // Rows reduced apart are split over the threads; one row is reduced whole.
      node: [{ opType: 'ReduceSum', input: ['x', 'axes'], output: ['y'], attribute: [{ name: 'keepdims', type: ATTR_INT, i: 0 }] }],
      initializer: [{ name: 'axes', dataType: INT64, dims: [1], int64Data: [1] }],
      input: [floatInput('x', [rows, cols])],
      output: [floatInput('y', [rows])],
    }),
    sessionOptions(threads),
  )
  const input = new ort.Tensor('float32', x.subarray(0, rows * cols), [rows, cols])
  const seconds = await fastestRun(reps, () => session.run({ x: input }))
  await session.release()
  return (rows * cols * 4) / seconds
}

function projectionNode(kernel: MatmulKernel, input: string, weight: string, output: string): onnxProto.onnx.INodeProto {
  if (kernel === 'Gemm') return { opType: 'Gemm', input: [input, weight], output: [output], attribute: [{ name: 'transB', type: ATTR_INT, i: 1 }] }
  if (kernel === 'FusedMatMul')
    return { opType: 'FusedMatMul', domain: 'com.microsoft', input: [input, weight], output: [output], attribute: [{ name: 'alpha', type: ATTR_FLOAT, f: 1 }] }
  return { opType: 'MatMul', input: [input, weight], output: [output] }
}

/**
 * A session running `depth` projections (even) over x[m, k], m free: weights a (k -> n) and
 * b (n -> k) as initializers, as a model's projection weights are, random as a model's are.
 */
async function projectionChain(kernel: MatmulKernel, k: number, n: number, depth: number, threads: number, spinning: boolean) {
  // Gemm's transB weight is stored [out, in]; the values are random, so only the dims differ.
  const dims = (din: number, dout: number) => (kernel === 'Gemm' ? [dout, din] : [din, dout])
  const a = randomFloats(k * n, Math.sqrt(3 / k), 1)
  const b = randomFloats(k * n, Math.sqrt(3 / n), 2)
  const node = Array.from({ length: depth }, (_, i) =>
    projectionNode(kernel, i === 0 ? 'x' : `h${i}`, i % 2 === 0 ? 'a' : 'b', i === depth - 1 ? 'y' : `h${i + 1}`),
  )
  return ort.InferenceSession.create(
    modelBytes({
      name: 'projections',
      node,
      initializer: [
        { name: 'a', dataType: FLOAT, dims: dims(k, n), rawData: new Uint8Array(a.buffer) },
        { name: 'b', dataType: FLOAT, dims: dims(n, k), rawData: new Uint8Array(b.buffer) },
      ],
      input: [floatInput('x', ['m', k])],
      output: [floatInput('y', ['m', k])],
    }),
    sessionOptions(threads, spinning),
  )
}

/** FLOP/s of each m in `rows` through one chain of projections (see projectionChain). */
export async function measureProjections(
  kernel: MatmulKernel,
  k: number,
  n: number,
  rows: readonly number[],
  threads: number,
  spinning: boolean,
  reps: number,
): Promise<MatmulWitness[]> {
  // ~1.5 GFLOP a run at the engine's chunk of 256 rows: long enough that a run's fixed cost is noise.
  const depth = Math.min(16, Math.max(2, 2 * Math.round(1.5e9 / (2 * 256 * k * n) / 2)))
  const session = await projectionChain(kernel, k, n, depth, threads, spinning)
  const found: MatmulWitness[] = []
  for (const m of rows) {
    const x = new ort.Tensor('float32', randomFloats(m * k, 1, 3), [m, k])
    const seconds = await fastestRun(reps, () => session.run({ x }))
    found.push({ kernel, m, k, n, depth, threads, spinning, flopsPerSecond: (depth * 2 * m * k * n) / seconds })
  }
  await session.release()
  return found
}

/** x[m, k] @ w[k, n] with w an initializer, one node: FLOP/s (the GEMV reader). */
export async function measureMatmul(threads: number, m: number, k: number, n: number, reps: number, kernel: MatmulKernel = 'MatMul'): Promise<number> {
  const w = randomFloats(k * n, Math.sqrt(3 / k), 4)
  const session = await ort.InferenceSession.create(
    modelBytes({
      name: 'matmul',
      node: [projectionNode(kernel, 'x', 'w', 'y')],
      initializer: [{ name: 'w', dataType: FLOAT, dims: kernel === 'Gemm' ? [n, k] : [k, n], rawData: new Uint8Array(w.buffer) }],
      input: [floatInput('x', [m, k])],
      output: [floatInput('y', [m, n])],
    }),
    sessionOptions(threads),
  )
  const x = new ort.Tensor('float32', randomFloats(m * k, 1, 5), [m, k])
  const seconds = await fastestRun(reps, () => session.run({ x }))
  await session.release()
  return (2 * m * k * n) / seconds
}

/**
 * One row through a MatMulNBits weight (4-bit codes, an fp32 scale per 32, as the q4 models'
 * projections): bytes of codes and scales per second, what a q4 decode step reads.
 */
export async function measureQ4Gemv(threads: number, k: number, n: number, reps: number): Promise<number> {
  const block = 32
  const codes = new Uint8Array((n * k) / 2)
  for (let i = 0, s = 7; i < codes.length; i++) codes[i] = s = (s * 1103515245 + 12345) & 0xff
  const scales = randomFloats((n * k) / block, 0.01, 6)
  const session = await ort.InferenceSession.create(
    modelBytes({
      name: 'q4-gemv',
      node: [
        {
          opType: 'MatMulNBits',
          domain: 'com.microsoft',
          input: ['x', 'b', 'scales'],
          output: ['y'],
          attribute: [
            { name: 'K', type: ATTR_INT, i: k },
            { name: 'N', type: ATTR_INT, i: n },
            { name: 'bits', type: ATTR_INT, i: 4 },
            { name: 'block_size', type: ATTR_INT, i: block },
          ],
        },
      ],
      initializer: [
        { name: 'b', dataType: UINT8, dims: [n, k / block, block / 2], rawData: codes },
        { name: 'scales', dataType: FLOAT, dims: [n, k / block], rawData: new Uint8Array(scales.buffer) },
      ],
      input: [floatInput('x', [1, k])],
      output: [floatInput('y', [1, n])],
    }),
    sessionOptions(threads),
  )
  const x = new ort.Tensor('float32', randomFloats(k, 1, 7), [1, k])
  const seconds = await fastestRun(reps, () => session.run({ x }))
  await session.release()
  return (codes.byteLength + scales.byteLength) / seconds
}

// Runs in each worker: sums its own array `reps` times, 4 accumulators to keep the loop
// load-bound rather than add-latency-bound, and reports the least seconds per pass.
const READ_WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const a = new Float64Array(workerData.n).fill(1)
let best = Infinity
let sink = 0
for (let r = 0; r <= workerData.reps; r++) {
  const t0 = performance.now()
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0
  for (let i = 0; i < a.length; i += 4) { s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3] }
  sink += s0 + s1 + s2 + s3
  if (r > 0) best = Math.min(best, (performance.now() - t0) / 1000)
}
parentPort.postMessage({ seconds: best, sink })
`

export async function measureJsRead(threads: number, bytesPerThread: number, reps: number): Promise<number> {
  const n = Math.floor(bytesPerThread / 8 / 4) * 4
  const seconds = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(READ_WORKER, { eval: true, workerData: { n, reps } })
          w.once('message', (m: { seconds: number }) => resolve(m.seconds))
          w.once('error', reject)
        }),
    ),
  )
  // Workers run concurrently; the slowest one bounds the aggregate rate.
  return (threads * n * 8) / Math.max(...seconds)
}

/**
 * Every matmul witness: each kernel at each projection shape and row count with the bench's
 * threads spinning (onnxruntime's default), then the fastest shape again as Hearth runs it
 * (spinning off). Best first.
 */
export async function matmulWitnesses(threads: number, reps: number): Promise<MatmulWitness[]> {
  const found: MatmulWitness[] = []
  for (const [k, n] of PROJECTIONS) {
    for (const kernel of ['MatMul', 'Gemm', 'FusedMatMul'] as const) found.push(...(await measureProjections(kernel, k, n, ROWS, threads, true, reps)))
  }
  const best = found.reduce((a, b) => (b.flopsPerSecond > a.flopsPerSecond ? b : a))
  found.push(...(await measureProjections(best.kernel, best.k, best.n, ROWS, threads, false, reps)))
  return found.sort((a, b) => b.flopsPerSecond - a.flopsPerSecond)
}

/** The theoretical peak from this machine's /proc/cpuinfo; null off Linux. */
export function machinePeak(threads: number): CpuPeak | null {
  const read = (file: string): string | null => {
    try {
      return readFileSync(file, 'utf8')
    } catch {
      return null
    }
  }
  const cpuinfo = read('/proc/cpuinfo')
  if (cpuinfo === null) return null
  const maxFreq = read('/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq')
  return cpuPeak(cpuinfo, maxFreq === null ? null : Number(maxFreq.trim()), threads)
}

export async function measureRoofline(threads: number, quick: boolean): Promise<RooflineFigures> {
  const reps = quick ? 3 : 7
  // Every reader goes through 80-256 MiB, several times the last-level caches of a desktop CPU.
  const big = new Float32Array(64 * 2 ** 20).fill(1)
  const ortRead = Math.max(await measureOrtRead(threads, big, reps), await measureOrtRead(threads, big, reps, 1024))
  const jsRead = await measureJsRead(threads, (256 * 2 ** 20) / threads, reps)
  // One row through a 256 MiB weight: 2 FLOP per 4-byte weight read, so bytes/s = 2 x FLOP/s.
  const gemvRead = 2 * Math.max(await measureMatmul(threads, 1, 8192, 8192, reps), await measureMatmul(threads, 1, 8192, 8192, reps, 'Gemm'))
  const q4GemvRead = await measureQ4Gemv(threads, 8192, 16384, reps)
  const witnesses = await matmulWitnesses(threads, reps)
  return {
    readBytesPerSecond: Math.max(ortRead, jsRead, gemvRead, q4GemvRead),
    ortReadBytesPerSecond: ortRead,
    jsReadBytesPerSecond: jsRead,
    gemvReadBytesPerSecond: gemvRead,
    q4GemvReadBytesPerSecond: q4GemvRead,
    matmulFlopsPerSecond: witnesses[0]!.flopsPerSecond,
    matmulWitnesses: witnesses,
    peak: machinePeak(threads),
    threads,
  }
}

/**
 * Each figure at its best of two measurements (before and after a model's jobs): load from other
 * processes only lowers them, and a low bound would flatter every engine.
 */
export function bestRoofline(a: RooflineFigures, b: RooflineFigures): RooflineFigures {
  const byShape = new Map<string, MatmulWitness>()
  for (const w of [...(a.matmulWitnesses ?? []), ...(b.matmulWitnesses ?? [])]) {
    const key = `${w.kernel} ${w.m}x${w.k}x${w.n} ${w.threads} ${w.spinning}`
    if ((byShape.get(key)?.flopsPerSecond ?? -1) < w.flopsPerSecond) byShape.set(key, w)
  }
  const witnesses = [...byShape.values()].sort((x, y) => y.flopsPerSecond - x.flopsPerSecond)
  const q4 = Math.max(a.q4GemvReadBytesPerSecond ?? 0, b.q4GemvReadBytesPerSecond ?? 0)
  return {
    readBytesPerSecond: Math.max(a.readBytesPerSecond, b.readBytesPerSecond),
    ortReadBytesPerSecond: Math.max(a.ortReadBytesPerSecond, b.ortReadBytesPerSecond),
    jsReadBytesPerSecond: Math.max(a.jsReadBytesPerSecond, b.jsReadBytesPerSecond),
    gemvReadBytesPerSecond: Math.max(a.gemvReadBytesPerSecond, b.gemvReadBytesPerSecond),
    ...(q4 > 0 ? { q4GemvReadBytesPerSecond: q4 } : {}),
    matmulFlopsPerSecond: Math.max(a.matmulFlopsPerSecond, b.matmulFlopsPerSecond),
    ...(witnesses.length > 0 ? { matmulWitnesses: witnesses } : {}),
    ...(a.peak !== undefined || b.peak !== undefined ? { peak: a.peak ?? b.peak ?? null } : {}),
    threads: a.threads,
  }
}

/** The bench's default thread count: every core, as the engines are run one at a time. */
export function defaultThreads(): number {
  return os.availableParallelism()
}
