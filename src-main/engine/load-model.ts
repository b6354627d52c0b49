// Loading a model folder: validate, check memory before loading, open the session on the first
// provider that works, load the tokenizer, probe multi-token append.

import { stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { AppError } from '../../src-shared/errors.ts'
import type { LoadedModelInfo, ModelVariant } from '../../src-shared/types.ts'
import { kvBytesPerToken, readModelConfig, type ModelConfig } from './model-config.ts'
import { chooseVariant, inspectModelFolder } from './model-folder.ts'
import type { LoadOptions } from './protocol.ts'
import { defaultProviders, defaultThreads, openWithFallback } from './providers.ts'
import { ModelSession } from './session.ts'
import type { ModelIdentity } from './snapshots.ts'
import { loadTokenizer, type ChatTokenizer } from './tokenizer.ts'

export interface LoadedModel {
  session: ModelSession
  tokenizer: ChatTokenizer
  config: ModelConfig
  info: LoadedModelInfo
  identity: ModelIdentity
  /** Prompt tokens per forward pass. */
  prefillChunk: number
}

/** Context positions the memory estimate reserves KV for (a long chat, not the model's maximum). */
const ESTIMATE_CONTEXT = 4096
/**
 * Default prompt tokens per prefill pass. Bounds what a pass materialises: attention scores
 * [heads, chunk, context] in exports built from standard ops, and logits [chunk, vocab] in those
 * without num_logits_to_keep (a 4000-token prompt in one pass would need gigabytes for either).
 * 256 was the fastest measured at 512- and 2048-token prompts (PERFORMANCE.md).
 */
const DEFAULT_CHUNK = 256

export async function loadModel(modelDir: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const summary = await inspectModelFolder(modelDir)
  if (!summary.valid) throw new AppError('MODEL_INVALID', `${summary.dir}: ${summary.reason}`)
  const config = await readModelConfig(summary.dir)
  const threads = opts.threads ?? defaultThreads()
  const spinning = opts.spinning ?? false
  const memoryLimit = opts.memoryLimitBytes ?? os.freemem()

  const opened = await openWithFallback(opts.providers ?? defaultProviders(), summary.dir, async (provider) => {
    const variant = chooseVariant(summary.variants, provider, opts.variant)
    const onnxStat = await stat(path.join(summary.dir, variant.file))
    // The in-place rewrite reads the .onnx file and writes a rewritten copy while it loads: for
    // weights inside the file (no external data) that is twice its size on top of the weights.
    checkMemory(variant, config, memoryLimit, opts.prefillChunk, provider === 'webgpu' ? 0 : 2 * onnxStat.size)
    const session = await ModelSession.open(path.join(summary.dir, variant.file), {
      provider,
      threads,
      spinning,
      contextLength: config.contextLength,
      kvHeads: config.kvHeads,
      headDim: config.headDim,
      vocab: config.vocabSize,
    })
    return { session, variant, onnxStat }
  })
  const { session, variant, onnxStat } = opened.value
  try {
    const tokenizer = await loadTokenizer(summary.dir)
    const multiTokenAppend = await session.probeMultiTokenAppend()
    const info: LoadedModelInfo = {
      modelId: summary.id,
      variant: variant.name,
      provider: opened.provider,
      providerAttempts: opened.attempts,
      contextLength: config.contextLength,
      kvDtype: session.sig.kvDtype,
      multiTokenAppend,
      threads,
      kvUpdate: session.kvUpdate,
      kvUpdateNotes: session.kvUpdateNotes,
      fusions: session.fusions,
    }
    const identity: ModelIdentity = {
      file: path.join(summary.dir, variant.file),
      bytes: variant.bytes,
      mtimeMs: onnxStat.mtimeMs,
      variant: variant.name,
      kvDtype: session.sig.kvDtype,
      layers: session.sig.layers,
      kvHeads: session.sig.kvHeads,
      headDim: session.sig.headDim,
      onnxruntime: ort.env.versions.common,
    }
    const prefillChunk = opts.prefillChunk && opts.prefillChunk > 0 ? opts.prefillChunk : DEFAULT_CHUNK
    return { session, tokenizer, config, info, identity, prefillChunk }
  } catch (err) {
    await session.release()
    throw err
  }
}

/**
 * Refuses, before loading, a variant whose weights, cache and prefill outputs, plus what loading
 * holds for a while (`loadingBytes`), exceed `limit`.
 */
function checkMemory(variant: ModelVariant, config: ModelConfig, limit: number, chunk: number | undefined, loadingBytes = 0): void {
  const kvDtype = config.declaredKvDtype ?? (variant.name === 'fp16' || variant.name === 'q4f16' ? 'float16' : 'float32')
  const kv = kvBytesPerToken(config, kvDtype) * Math.min(config.contextLength, ESTIMATE_CONTEXT)
  const logits = (chunk && chunk > 0 ? chunk : DEFAULT_CHUNK) * config.vocabSize * 4
  // Weights plus ~10% for the runtime's own allocations.
  const need = Math.round(variant.bytes * 1.1 + kv + logits + loadingBytes)
  if (need > limit) {
    throw new AppError(
      'MODEL_TOO_BIG',
      `The ${variant.name} variant needs about ${gib(need)} of memory (weights ${gib(variant.bytes)}, ` +
        `KV cache ${gib(kv)} for ${Math.min(config.contextLength, ESTIMATE_CONTEXT)} tokens` +
        `${loadingBytes >= 2 ** 20 ? `, ${gib(loadingBytes)} more while loading a model stored in one file` : ''}) ` +
        `but ${gib(limit)} is available. Choose a smaller variant or model, or close other programs.`,
    )
  }
}

function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.max(1, Math.round(bytes / 2 ** 20))} MiB`
}
