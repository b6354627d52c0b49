// The execution providers and thread count a load uses unless told otherwise; main shows the same
// defaults the engine applies.

import os from 'node:os'
import type { ProviderName } from '../../src-shared/types.ts'

export function defaultProviders(platform: NodeJS.Platform = process.platform): ProviderName[] {
  if (platform === 'win32') return ['dml', 'webgpu', 'cpu']
  if (platform === 'darwin') return ['coreml', 'webgpu', 'cpu']
  return ['cuda', 'webgpu', 'cpu']
}

/**
 * Intra-op threads: every logical CPU on small machines; above 4, half of them (SMT siblings share
 * the FPU that matmuls saturate), capped at 8 where more threads stop helping a batch of one.
 */
export function defaultThreads(cpus: number = os.availableParallelism()): number {
  return cpus <= 4 ? Math.max(1, cpus) : Math.min(8, Math.floor(cpus / 2))
}
