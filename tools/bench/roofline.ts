// The machine's limits, measured in the same run as the engines: memory read bandwidth (decode's
// bound) and fp32 matmul throughput (prefill's bound), both through onnxruntime-node with the
// benchmark's thread count, plus a plain JS read in worker threads as a second bandwidth witness.

import os from 'node:os'
import { Worker } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import onnxProto from 'onnx-proto'
import { median } from './stats.ts'

const { onnx } = onnxProto
const FLOAT = onnx.TensorProto.DataType.FLOAT

export interface RooflineFigures {
  /** Best of the bandwidth witnesses, bytes/s. */
  readBytesPerSecond: number
  /** onnxruntime ReduceSum over a tensor far larger than the caches, bytes/s. */
  ortReadBytesPerSecond: number
  /** One worker thread per benchmark thread summing its own Float64Array, bytes/s. */
  jsReadBytesPerSecond: number
  /** A 1 x 8192 x 8192 MatMul (a decode step's shape) reading its 256 MiB weight, bytes/s. */
  gemvReadBytesPerSecond: number
  /** fp32 MatMul, FLOP/s (best of the shapes tried). */
  matmulFlopsPerSecond: number
  threads: number
}

function modelBytes(graph: onnxProto.onnx.IGraphProto): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'hearth-bench',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  })
  return onnx.ModelProto.encode(model).finish()
}

function floatInput(name: string, dims: number[]): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } }
}

function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return { intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ['cpu'] }
}

/** Median seconds of `reps` calls after one warm-up. */
async function timeRuns(reps: number, run: () => Promise<unknown>): Promise<number> {
  await run()
  const times: number[] = []
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now()
    await run()
    times.push((performance.now() - t0) / 1000)
  }
  return median(times)
}

export async function measureOrtRead(threads: number, bytes: number, reps: number): Promise<number> {
  const n = Math.floor(bytes / 4)
  const session = await ort.InferenceSession.create(
    modelBytes({
      name: 'read',
      node: [{ opType: 'ReduceSum', input: ['x'], output: ['y'], attribute: [{ name: 'keepdims', type: 2, i: 0 }] }],
      input: [floatInput('x', [n])],
      output: [floatInput('y', [])],
    }),
    sessionOptions(threads),
  )
  const x = new ort.Tensor('float32', new Float32Array(n).fill(1), [n])
  const seconds = await timeRuns(reps, () => session.run({ x }))
  await session.release()
  return (n * 4) / seconds
}

/** x[m, k] @ w[k, n] with w an initializer, as a model's projection weights are. */
export async function measureMatmul(threads: number, m: number, k: number, n: number, reps: number): Promise<number> {
  const w = new Float32Array(k * n).fill(0.001)
  const session = await ort.InferenceSession.create(
    modelBytes({
      name: 'matmul',
      node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'] }],
      initializer: [{ name: 'w', dataType: FLOAT, dims: [k, n], rawData: new Uint8Array(w.buffer) }],
      input: [floatInput('x', [m, k])],
      output: [floatInput('y', [m, n])],
    }),
    sessionOptions(threads),
  )
  const x = new ort.Tensor('float32', new Float32Array(m * k).fill(0.5), [m, k])
  const seconds = await timeRuns(reps, () => session.run({ x }))
  await session.release()
  return (2 * m * k * n) / seconds
}

// Runs in each worker: sums its own array `reps` times, 4 accumulators to keep the loop
// load-bound rather than add-latency-bound, and reports the median seconds per pass.
const READ_WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const a = new Float64Array(workerData.n).fill(1)
const times = []
let sink = 0
for (let r = 0; r <= workerData.reps; r++) {
  const t0 = performance.now()
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0
  for (let i = 0; i < a.length; i += 4) { s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3] }
  sink += s0 + s1 + s2 + s3
  if (r > 0) times.push((performance.now() - t0) / 1000)
}
times.sort((x, y) => x - y)
parentPort.postMessage({ seconds: times[times.length >> 1], sink })
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

export async function measureRoofline(threads: number, quick: boolean): Promise<RooflineFigures> {
  const reps = quick ? 3 : 7
  const ortRead = await measureOrtRead(threads, 512 * 2 ** 20, reps)
  const jsRead = await measureJsRead(threads, 256 * 2 ** 20, reps)
  // One row through a 256 MiB weight: 2 FLOP per 4-byte weight read, so bytes/s = 2 x FLOP/s.
  const gemvRead = 2 * (await measureMatmul(threads, 1, 8192, 8192, reps))
  const shapes: [number, number, number][] = quick
    ? [[512, 2048, 2048]]
    : [
        [512, 2048, 2048],
        [512, 896, 4864],
        [1024, 1024, 1024],
      ]
  let matmul = 0
  for (const [m, k, n] of shapes) matmul = Math.max(matmul, await measureMatmul(threads, m, k, n, reps))
  return {
    readBytesPerSecond: Math.max(ortRead, jsRead, gemvRead),
    ortReadBytesPerSecond: ortRead,
    jsReadBytesPerSecond: jsRead,
    gemvReadBytesPerSecond: gemvRead,
    matmulFlopsPerSecond: matmul,
    threads,
  }
}

/**
 * Each figure at its best of two measurements (before and after a model's jobs): load from other
 * processes only lowers them, and a low bound would flatter every engine.
 */
export function bestRoofline(a: RooflineFigures, b: RooflineFigures): RooflineFigures {
  return {
    readBytesPerSecond: Math.max(a.readBytesPerSecond, b.readBytesPerSecond),
    ortReadBytesPerSecond: Math.max(a.ortReadBytesPerSecond, b.ortReadBytesPerSecond),
    jsReadBytesPerSecond: Math.max(a.jsReadBytesPerSecond, b.jsReadBytesPerSecond),
    gemvReadBytesPerSecond: Math.max(a.gemvReadBytesPerSecond, b.gemvReadBytesPerSecond),
    matmulFlopsPerSecond: Math.max(a.matmulFlopsPerSecond, b.matmulFlopsPerSecond),
    threads: a.threads,
  }
}

/** The bench's default thread count: every core, as the engines are run one at a time. */
export function defaultThreads(): number {
  return os.availableParallelism()
}
