// Execution providers: which ones cannot work here, and trying each in turn because
// onnxruntime-node throws instead of falling back when a provider is unusable.

import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import type { ProviderAttempt, ProviderName } from '../../src-shared/types.ts'
import { AppError } from '../../src-shared/errors.ts'

/**
 * Why a provider cannot work here, known without trying; null when only trying can tell.
 * CUDA needs libraries onnxruntime-node does not bundle (`npm run setup:cuda` installs them);
 * trying it without them makes onnxruntime log a loader error.
 */
export function knownUnavailable(provider: ProviderName): string | null {
  if (provider !== 'cuda') return null
  if (process.platform !== 'linux' && process.platform !== 'win32') return 'CUDA runs on Linux and Windows only'
  const bin = path.join(
    path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
    '..', 'bin', 'napi-v6', process.platform, process.arch,
  )
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'
  return existsSync(path.join(bin, lib)) ? null : 'CUDA libraries are not installed (npm run setup:cuda)'
}

/**
 * Calls `open` with each provider in order until one succeeds. Every failure is recorded with its
 * reason. When all fail: if the CPU provider failed too, the file itself is at fault (MODEL_INVALID,
 * naming `file`); otherwise the error names each provider and why.
 */
export async function openWithFallback<T>(
  providers: readonly ProviderName[],
  file: string,
  open: (provider: ProviderName) => Promise<T>,
): Promise<{ value: T; provider: ProviderName; attempts: ProviderAttempt[] }> {
  const attempts: ProviderAttempt[] = []
  for (const provider of providers) {
    const unavailable = knownUnavailable(provider)
    if (unavailable) {
      attempts.push({ provider, ok: false, reason: unavailable })
      continue
    }
    try {
      const value = await open(provider)
      attempts.push({ provider, ok: true })
      return { value, provider, attempts }
    } catch (err) {
      // A model-level error (bad file, unsupported signature) fails on every provider alike.
      if (err instanceof AppError) throw err
      attempts.push({ provider, ok: false, reason: firstLine(err) })
    }
  }
  const cpu = attempts.find((a) => a.provider === 'cpu')
  if (cpu) throw new AppError('MODEL_INVALID', `${file} could not be loaded: ${cpu.reason}`)
  const why = attempts.map((a) => `${a.provider}: ${a.reason}`).join('; ')
  throw new AppError('MODEL_UNSUPPORTED', `No execution provider could run this model (${why})`)
}

/** The first line of an error, without onnxruntime's source location and failed-check preamble. */
function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const line = message.split('\n')[0] ?? message
  return line.replace(/^\/onnxruntime_src\/\S+ .*? was false\. /, '').slice(0, 300)
}
