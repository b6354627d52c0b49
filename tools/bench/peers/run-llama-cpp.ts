// Measurement process for llama.cpp through node-llama-cpp, on the GGUF of the same model. Lives
// beside the peers' node_modules so the package resolves from here; it is imported by a computed
// name so the repository typechecks without the peers installed.

import { promptTokens, serveJob, type Job, type TaskResult } from '../protocol.ts'

interface LlamaSequence {
  evaluate(tokens: number[], opts: { temperature: number; yieldEogToken: boolean }): AsyncGenerator<number>
  clearHistory(): Promise<void>
}
interface LlamaContext {
  getSequence(): LlamaSequence
  dispose(): Promise<void>
}
interface LlamaModel {
  createContext(opts: { contextSize: number; batchSize: number; threads: number }): Promise<LlamaContext>
  fileInfo: { metadata: { llama?: { block_count?: number; attention?: { head_count_kv?: number; key_length?: number } } } }
}
interface NodeLlamaCpp {
  getLlama(opts: { gpu: false; build: 'never'; logLevel: 'error' }): Promise<{
    loadModel(opts: { modelPath: string }): Promise<LlamaModel>
  }>
}

const PACKAGE = 'node-llama-cpp'

/** Prompt through the first generated token; the sequence keeps the prompt and that token. */
async function firstToken(seq: LlamaSequence, tokens: number[]): Promise<AsyncGenerator<number>> {
  const gen = seq.evaluate(tokens, { temperature: 0, yieldEogToken: true })
  const first = await gen.next()
  if (first.done) throw new Error('llama.cpp generated nothing')
  return gen
}

async function run(job: Job): Promise<{ loadMs: number; result: TaskResult }> {
  process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = 'true'
  const { getLlama } = (await import(PACKAGE)) as NodeLlamaCpp
  const t0 = performance.now()
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' })
  const model = await llama.loadModel({ modelPath: job.ggufFile })
  const task = job.task
  const longest = task.kind === 'prefill' ? task.tokens : task.context + task.steps
  const ctx = await model.createContext({ contextSize: longest + 64, batchSize: job.chunk || 512, threads: job.threads })
  const seq = ctx.getSequence()
  const loadMs = performance.now() - t0

  if (task.kind === 'prefill') {
    await (await firstToken(seq, promptTokens(16, job.vocab, 1))).return(undefined)
    await seq.clearHistory()
    const ttftMs: number[] = []
    for (let r = 0; r < task.repeats; r++) {
      const start = performance.now()
      const gen = await firstToken(seq, promptTokens(task.tokens, job.vocab, 11 + r))
      ttftMs.push(performance.now() - start)
      await gen.return(undefined)
      await seq.clearHistory()
    }
    await ctx.dispose()
    return { loadMs, result: { kind: 'prefill', tokens: task.tokens, ttftMs } }
  }
  if (task.kind === 'memory') throw new Error('the memory task runs on Hearth only')

  const start = performance.now()
  const gen = await firstToken(seq, promptTokens(task.context, job.vocab))
  const first = performance.now()
  const stepMs: number[] = []
  for (let s = 1, last = first; s < task.steps; s++) {
    const next = await gen.next()
    if (next.done) throw new Error(`llama.cpp stopped after ${s} tokens`)
    const now = performance.now()
    stepMs.push(now - last)
    last = now
  }
  await gen.return(undefined)
  await ctx.dispose()
  // llama.cpp's default cache is f16: 2 bytes per element, keys and values, every layer.
  const meta = model.fileInfo.metadata.llama
  const kvBytesPerToken =
    meta?.block_count && meta.attention?.head_count_kv && meta.attention.key_length
      ? 2 * meta.block_count * meta.attention.head_count_kv * meta.attention.key_length * 2
      : null
  return {
    loadMs,
    result: {
      kind: 'decode',
      context: task.context,
      ttftMs: first - start,
      stepMs,
      kvBytesPerToken,
    },
  }
}

serveJob(run)
