// What the bench parent sends each measurement process and what comes back, plus the helpers
// every runner shares. One job = one engine, one model, one task, in a fresh process.

import type { KvDtype } from '../../src-shared/types.ts'

export type EngineName = 'hearth' | 'transformers' | 'llama.cpp'
export const ENGINES: readonly EngineName[] = ['hearth', 'transformers', 'llama.cpp']

export type Task =
  /** Fresh cache each time: `tokens` prompt tokens, then the first generated token. */
  | { kind: 'prefill'; tokens: number; repeats: number }
  /** Prefill `context` tokens, then `steps` greedy tokens one at a time. */
  | { kind: 'decode'; context: number; steps: number }
  /** Like decode, sampling resident memory every `every` steps. */
  | { kind: 'memory'; context: number; steps: number; every: number }

export interface Job {
  engine: EngineName
  modelDir: string
  /** The .onnx file inside modelDir for the ONNX engines, e.g. onnx/model.onnx. */
  onnxFile: string
  /** The GGUF of the same model for llama.cpp. */
  ggufFile: string
  vocab: number
  threads: number
  /** Prefill tokens per pass: Hearth's prefillChunk and llama.cpp's batch size; 0: each one's default. */
  chunk: number
  /** Hearth's intra-op spinning; absent: the engine's default (defaultSpinning). */
  spinning?: boolean
  /** Hearth's KV cache type; absent: the model's. */
  kvDtype?: KvDtype
  task: Task
}

export interface PrefillResult {
  kind: 'prefill'
  tokens: number
  /** Request to first generated token, per repeat. */
  ttftMs: number[]
}

export interface DecodeResult {
  kind: 'decode'
  context: number
  ttftMs: number
  /** Milliseconds between consecutive generated tokens: one entry per decode step. */
  stepMs: number[]
  /** KV cache bytes per token as the engine holds it (null where the engine does not say). */
  kvBytesPerToken: number | null
}

export interface MemoryResult {
  kind: 'memory'
  context: number
  /** Decode step at each sample. */
  steps: number[]
  /** Resident set size at each sample, bytes. */
  rss: number[]
  /**
   * Resident set size right after a full garbage collection at each sample, when the runner can
   * force one (--expose-gc): what the process keeps, without the garbage V8 has yet to collect.
   */
  rssAfterGc?: number[]
}

export type TaskResult = PrefillResult | DecodeResult | MemoryResult

export type JobOutcome =
  | { ok: true; loadMs: number; peakRssBytes: number; result: TaskResult }
  | { ok: false; error: string }

/** Deterministic prompt ids in [3, vocab): the same prompt for every engine, no special tokens. */
export function promptTokens(n: number, vocab: number, seed = 7): number[] {
  let state = seed >>> 0
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    out[i] = 3 + (state % (vocab - 3))
  }
  return out
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i
  return best
}

/** Peak resident memory of this process so far, bytes. */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024
}

/**
 * The runner side: receive one job over IPC, run it, send the outcome, exit. A failure is sent
 * as data so the parent can report it next to the other engines' figures.
 */
export function serveJob(run: (job: Job) => Promise<{ loadMs: number; result: TaskResult }>): void {
  process.once('message', (job: Job) => {
    run(job)
      .then(({ loadMs, result }): JobOutcome => ({ ok: true, loadMs, peakRssBytes: peakRss(), result }))
      .catch((err: unknown): JobOutcome => ({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }))
      .then((outcome) => process.send?.(outcome, () => process.exit(0)))
  })
}
