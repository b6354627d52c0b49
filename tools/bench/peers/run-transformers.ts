// Measurement process for transformers.js: generate() on the same model folder and .onnx file as
// Hearth, timed by a streamer. Lives beside the peers' node_modules so the package resolves from
// here; it is imported by a computed name so the repository typechecks without the peers.

import path from 'node:path'
import { promptTokens, serveJob, type Job, type TaskResult } from '../protocol.ts'

interface Streamer {
  put(ids: bigint[][]): void
  end(): void
}
interface CausalLM {
  generate(opts: {
    input_ids: unknown
    attention_mask: unknown
    max_new_tokens: number
    min_new_tokens: number
    do_sample: false
    streamer: Streamer
  }): Promise<unknown>
  dispose(): Promise<unknown>
}
interface Transformers {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string }
  AutoModelForCausalLM: { from_pretrained(id: string, opts: object): Promise<CausalLM> }
  Tensor: new (type: 'int64', data: BigInt64Array, dims: number[]) => unknown
}

const PACKAGE = '@huggingface/transformers'

/** onnx/model.onnx -> 'fp32', onnx/model_q4.onnx -> 'q4': transformers.js picks the file by dtype. */
function dtypeOf(onnxFile: string): string {
  const m = /^model(?:_(\w+))?\.onnx$/.exec(path.basename(onnxFile))
  if (!m) throw new Error(`transformers.js cannot be pointed at ${onnxFile}`)
  return m[1] ?? 'fp32'
}

/** Runs generate() and returns the time of each generated token, ms after the call. */
async function timedGenerate(tf: Transformers, model: CausalLM, ids: number[], newTokens: number): Promise<number[]> {
  const input = new tf.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length])
  const mask = new tf.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length])
  const times: number[] = []
  let prompt = true
  const start = performance.now()
  await model.generate({
    input_ids: input,
    attention_mask: mask,
    max_new_tokens: newTokens,
    min_new_tokens: newTokens,
    do_sample: false,
    streamer: {
      // The first put is the prompt itself; every later one is a generated token.
      put: () => {
        if (prompt) prompt = false
        else times.push(performance.now() - start)
      },
      end: () => {},
    },
  })
  if (times.length !== newTokens) throw new Error(`transformers.js generated ${times.length} of ${newTokens} tokens`)
  return times
}

async function run(job: Job): Promise<{ loadMs: number; result: TaskResult }> {
  const tf = (await import(PACKAGE)) as Transformers
  tf.env.allowRemoteModels = false
  tf.env.allowLocalModels = true
  tf.env.localModelPath = path.dirname(path.resolve(job.modelDir))
  const t0 = performance.now()
  const model = await tf.AutoModelForCausalLM.from_pretrained(path.basename(job.modelDir), {
    dtype: dtypeOf(job.onnxFile),
    device: 'cpu',
    local_files_only: true,
    session_options: { intraOpNumThreads: job.threads, interOpNumThreads: 1 },
  })
  const loadMs = performance.now() - t0
  const task = job.task

  if (task.kind === 'prefill') {
    await timedGenerate(tf, model, promptTokens(16, job.vocab, 1), 1)
    const ttftMs: number[] = []
    for (let r = 0; r < task.repeats; r++) {
      ttftMs.push((await timedGenerate(tf, model, promptTokens(task.tokens, job.vocab, 11 + r), 1))[0]!)
    }
    await model.dispose()
    return { loadMs, result: { kind: 'prefill', tokens: task.tokens, ttftMs } }
  }
  if (task.kind === 'memory') throw new Error('the memory task runs on Hearth only')

  const times = await timedGenerate(tf, model, promptTokens(task.context, job.vocab), task.steps)
  await model.dispose()
  return {
    loadMs,
    result: {
      kind: 'decode',
      context: task.context,
      ttftMs: times[0]!,
      stepMs: times.slice(1).map((t, i) => t - times[i]!),
      kvBytesPerToken: null,
    },
  }
}

serveJob(run)
