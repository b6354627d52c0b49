// Loading a model folder: validate, check memory before loading, open the session on the first
// provider that works, load the tokenizer, probe multi-token passes.

import { stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { AppError } from '../../src-shared/errors.ts'
import type { LoadedModelInfo, ModelVariant, ProviderName } from '../../src-shared/types.ts'
import { DEFAULT_PREFILL_CHUNK, ESTIMATE_CONTEXT, estimateMemory } from '../model-format/memory-estimate.ts'
import { readModelConfig, type ModelConfig } from '../model-format/model-config.ts'
import { chooseVariant, inspectModelFolder } from '../model-format/model-folder.ts'
import type { LoadOptions } from '../model-format/protocol.ts'
import { defaultProviders, defaultThreads } from '../model-format/provider-defaults.ts'
import { openWithFallback } from './providers.ts'
import { openSession } from './open-session.ts'
import type { ModelSession } from './session.ts'
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

export async function loadModel(modelDir: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const summary = await inspectModelFolder(modelDir)
  if (!summary.valid) throw new AppError('MODEL_INVALID', `${summary.dir}: ${summary.reason}`)
  // Capped here, so everything after it (session buffers, the memory check, generate's fitting) sees one context.
  const config = capContext(await readModelConfig(summary.dir), opts.contextLength)
  const threads = opts.threads ?? defaultThreads()
  const spinning = opts.spinning ?? false
  // Judged against available memory, not hardware-fit's 'wont-fit' ceiling, which counts RAM other
  // programs hold and might give back: loading into it would push the machine into swap. With the
  // same estimate, a variant the library says 'fits' (80% of available) loads, one it says
  // 'wont-fit' is refused, and a 'tight' one may need other programs closed first.
  const memoryLimit = opts.memoryLimitBytes ?? os.freemem()

  const opened = await openWithFallback(opts.providers ?? defaultProviders(), summary.dir, async (provider) => {
    const variant = chooseVariant(summary.variants, provider, opts.variant)
    const onnxStat = await stat(path.join(summary.dir, variant.file))
    const declaredKvDtype = opts.kvDtype ?? config.declaredKvDtype
    checkMemory({ ...config, declaredKvDtype }, variant, { provider, chunk: opts.prefillChunk, onnxFileBytes: onnxStat.size }, memoryLimit)
    const session = await openSession(path.join(summary.dir, variant.file), {
      provider,
      threads,
      spinning,
      contextLength: config.contextLength,
      kvHeads: config.kvHeads,
      headDim: config.headDim,
      vocab: config.vocabSize,
      ...(opts.kvDtype ? { kvDtype: opts.kvDtype } : {}),
      int8Activations: opts.int8Activations ?? true,
    })
    return { session, variant, onnxStat }
  })
  const { session, variant, onnxStat } = opened.value
  try {
    const tokenizer = await loadTokenizer(summary.dir)
    const multiTokenPass = await session.probeMultiTokenPass()
    const info: LoadedModelInfo = {
      modelId: summary.id,
      variant: variant.name,
      provider: opened.provider,
      providerAttempts: opened.attempts,
      contextLength: config.contextLength,
      kvDtype: session.sig.kvDtype,
      multiTokenPass,
      threads,
      kvUpdate: session.kvUpdate,
      kvUpdateNotes: session.kvUpdateNotes,
      fusions: session.fusions,
      int8Activations: session.int8Activations,
      speculation: { ...speculationSupport(opened.provider, multiTokenPass), draftModelId: null },
    }
    const identity: ModelIdentity = {
      file: path.join(summary.dir, variant.file),
      bytes: variant.bytes,
      mtimeMs: onnxStat.mtimeMs,
      variant: variant.name,
      kvDtype: session.sig.kvDtype,
      int8Activations: session.int8Activations,
      layers: session.sig.layers,
      kvHeads: session.sig.kvHeads,
      headDim: session.sig.headDim,
      onnxruntime: ort.env.versions.common,
    }
    const prefillChunk = opts.prefillChunk && opts.prefillChunk > 0 ? opts.prefillChunk : DEFAULT_PREFILL_CHUNK
    return { session, tokenizer, config, info, identity, prefillChunk }
  } catch (err) {
    await session.release()
    throw err
  }
}

/** The config with its context cut to `cap` when that is shorter; a cap under 1 is refused, not run. */
export function capContext(config: ModelConfig, cap: number | undefined): ModelConfig {
  if (cap === undefined || cap >= config.contextLength) return config
  if (!Number.isInteger(cap) || cap < 1) throw new AppError('BAD_REQUEST', `A context length of ${cap} tokens cannot be run`)
  return { ...config, contextLength: cap }
}

/** Whether drafted tokens can be checked in one pass and the cache cut back after a rejected one. */
function speculationSupport(provider: ProviderName, multiTokenPass: boolean): { available: boolean; reason?: string } {
  if (!multiTokenPass) {
    return { available: false, reason: 'this export cannot take several new tokens on top of a cache, so drafts cannot be checked together' }
  }
  // open-session.ts keeps a WebGPU session's cache on the device, where it cannot be cut back
  // (KvCache#truncate empties it): every rejected draft would cost a whole prefill.
  if (provider === 'webgpu') return { available: false, reason: 'the cache lives on the WebGPU device, where it cannot be cut back after a rejected draft' }
  return { available: true }
}

/** Refuses, before loading, a variant the shared estimate (memory-estimate.ts) puts over `limit`. */
function checkMemory(
  config: ModelConfig,
  variant: ModelVariant,
  opts: { provider: ProviderName; chunk: number | undefined; onnxFileBytes: number },
  limit: number,
): void {
  const context = Math.min(config.contextLength, ESTIMATE_CONTEXT)
  const need = estimateMemory(config, variant, { context, ...opts })
  if (need.totalBytes > limit) {
    throw new AppError(
      'MODEL_TOO_BIG',
      `The ${variant.name} variant needs about ${gib(need.totalBytes)} of memory (weights ${gib(variant.bytes)}, ` +
        `KV cache ${gib(need.kvBytes)} for ${context} tokens` +
        `${need.loadingBytes >= 2 ** 20 ? `, ${gib(need.loadingBytes)} more while loading a model stored in one file` : ''}) ` +
        `but ${gib(limit)} is available. Choose a smaller variant or model, or close other programs.`,
    )
  }
}

function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.max(1, Math.round(bytes / 2 ** 20))} MiB`
}
