// Measurement process for Hearth: loads the model with the engine's own loader (variant choice,
// session options, multi-token probe, prefill chunk policy) and drives its forward pass over
// token ids, as Engine#generate does: prefill in the engine's chunks, then one token per pass.
// Greedy argmax stands in for the sampler, whose per-token cost `npm run bench -- sampler` shows.

import type { VariantName } from '../../src-shared/types.ts'
import type { KvCache } from '../../src-main/engine/kv-cache.ts'
import { loadModel } from '../../src-main/engine/load-model.ts'
import type { ModelSession } from '../../src-main/engine/session.ts'
import { argmax, promptTokens, serveJob, type Job, type TaskResult } from './protocol.ts'

async function prefill(session: ModelSession, kv: KvCache, tokens: number[], chunk: number): Promise<number> {
  let logits: Float32Array | null = null
  for (let i = 0; i < tokens.length; i += chunk) {
    logits = await session.forward(kv, tokens.slice(i, i + chunk), { logits: 'last' })
  }
  return argmax(logits!)
}

async function run(job: Job): Promise<{ loadMs: number; result: TaskResult }> {
  const variant: VariantName = job.onnxFile.endsWith('_q4.onnx') ? 'q4' : 'fp32'
  const t0 = performance.now()
  const model = await loadModel(job.modelDir, {
    variant,
    providers: ['cpu'],
    threads: job.threads,
    ...(job.spinning === undefined ? {} : { spinning: job.spinning }),
    ...(job.kvDtype ? { kvDtype: job.kvDtype } : {}),
    ...(job.chunk > 0 ? { prefillChunk: job.chunk } : {}),
  })
  const loadMs = performance.now() - t0
  const { session, prefillChunk } = model
  const chunk = Number.isFinite(prefillChunk) ? prefillChunk : Number.MAX_SAFE_INTEGER
  const task = job.task

  if (task.kind === 'prefill') {
    // Warm-up: the first run allocates and plans; users pay it once per load, not per message.
    const warm = session.emptyCache()
    await prefill(session, warm, promptTokens(16, job.vocab, 1), chunk)
    warm.dispose()
    const ttftMs: number[] = []
    for (let r = 0; r < task.repeats; r++) {
      const kv = session.emptyCache()
      const start = performance.now()
      await prefill(session, kv, promptTokens(task.tokens, job.vocab, 11 + r), chunk)
      ttftMs.push(performance.now() - start)
      kv.dispose()
    }
    return { loadMs, result: { kind: 'prefill', tokens: task.tokens, ttftMs } }
  }

  const kv = session.emptyCache()
  const start = performance.now()
  let token = await prefill(session, kv, promptTokens(task.context, job.vocab), chunk)
  const first = performance.now()
  if (task.kind === 'decode') {
    const stepMs: number[] = []
    for (let s = 1, last = first; s < task.steps; s++) {
      token = argmax(await session.forward(kv, [token], { logits: 'last' }))
      const now = performance.now()
      stepMs.push(now - last)
      last = now
    }
    return {
      loadMs,
      result: { kind: 'decode', context: task.context, ttftMs: first - start, stepMs, kvBytesPerToken: kv.bytes / kv.capacity },
    }
  }
  const steps: number[] = []
  const rss: number[] = []
  const rssAfterGc: number[] = []
  const gc = (globalThis as { gc?: () => void }).gc
  for (let s = 1; s <= task.steps; s++) {
    token = argmax(await session.forward(kv, [token], { logits: 'last' }))
    if (s % task.every === 0) {
      steps.push(s)
      rss.push(process.memoryUsage.rss())
      if (gc) {
        // V8 returns the memory of collected ArrayBuffers (a replaced cache block) on a background
        // thread after the GC: sampled at once, RSS still holds the last one, as large as the cache.
        gc()
        await sleep(100)
        gc()
        await sleep(100)
        rssAfterGc.push(process.memoryUsage.rss())
      }
    }
  }
  return { loadMs, result: { kind: 'memory', context: task.context, steps, rss, ...(gc ? { rssAfterGc } : {}) } }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

serveJob(run)
