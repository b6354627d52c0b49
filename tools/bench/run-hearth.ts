// Measurement process for Hearth: drives the engine's ModelSession (the forward pass the engine
// process runs) over token ids, prefilling in chunks as the engine does, decoding greedily.

import path from 'node:path'
import { readModelConfig } from '../../src-main/engine/model-config.ts'
import { ModelSession } from '../../src-main/engine/session.ts'
import type { KvCache } from '../../src-main/engine/kv-cache.ts'
import { argmax, promptTokens, serveJob, type Job, type TaskResult } from './protocol.ts'

async function prefill(session: ModelSession, kv: KvCache, tokens: number[], chunk: number): Promise<number> {
  let logits: Float32Array | null = null
  for (let i = 0; i < tokens.length; i += chunk) {
    logits = await session.forward(kv, tokens.slice(i, i + chunk), { logits: 'last' })
  }
  return argmax(logits!)
}

async function run(job: Job): Promise<{ loadMs: number; result: TaskResult }> {
  const config = await readModelConfig(job.modelDir)
  const t0 = performance.now()
  const session = await ModelSession.open(path.join(job.modelDir, job.onnxFile), {
    provider: 'cpu',
    threads: job.threads,
    contextLength: config.contextLength,
    kvHeads: config.kvHeads,
    headDim: config.headDim,
    vocab: config.vocabSize,
  })
  const loadMs = performance.now() - t0
  const task = job.task

  if (task.kind === 'prefill') {
    // Warm-up: the first run allocates and plans; users pay it once per load, not per message.
    const warm = session.emptyCache()
    await prefill(session, warm, promptTokens(16, job.vocab, 1), job.chunk)
    warm.dispose()
    const ttftMs: number[] = []
    for (let r = 0; r < task.repeats; r++) {
      const kv = session.emptyCache()
      const start = performance.now()
      await prefill(session, kv, promptTokens(task.tokens, job.vocab, 11 + r), job.chunk)
      ttftMs.push(performance.now() - start)
      kv.dispose()
    }
    return { loadMs, result: { kind: 'prefill', tokens: task.tokens, ttftMs } }
  }

  const kv = session.emptyCache()
  const start = performance.now()
  let token = await prefill(session, kv, promptTokens(task.context, job.vocab), job.chunk)
  const first = performance.now()
  if (task.kind === 'decode') {
    for (let s = 1; s < task.steps; s++) token = argmax(await session.forward(kv, [token], { logits: 'last' }))
    const end = performance.now()
    return {
      loadMs,
      result: {
        kind: 'decode',
        context: task.context,
        ttftMs: first - start,
        decodeMs: end - first,
        decodeTokens: task.steps - 1,
        kvBytesPerToken: kv.bytes / kv.length,
      },
    }
  }
  const steps: number[] = []
  const rss: number[] = []
  for (let s = 1; s <= task.steps; s++) {
    token = argmax(await session.forward(kv, [token], { logits: 'last' }))
    if (s % task.every === 0) {
      steps.push(s)
      rss.push(process.memoryUsage.rss())
    }
  }
  return { loadMs, result: { kind: 'memory', context: task.context, steps, rss } }
}

serveJob(run)
