// Numbers as people read them: durations, rates, byte sizes, token and parameter counts, provider names.

import type { ProviderName } from '../../src-shared/types.ts'

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
}

export function formatRate(perSecond: number): string {
  return perSecond >= 100 ? formatCount(Math.round(perSecond)) : perSecond.toFixed(1)
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US')
}

/** A model's size: 135M, 1.5B, 260K, 4.2K, 512 (one decimal below ten of a unit, none above). */
export function formatParameters(n: number): string {
  const [value, unit] = n >= 1e9 ? [n / 1e9, 'B'] : n >= 1e6 ? [n / 1e6, 'M'] : n >= 1e3 ? [n / 1e3, 'K'] : [n, '']
  return `${unit === '' || value >= 9.95 ? Math.round(value) : value.toFixed(1).replace(/\.0$/, '')}${unit}`
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

const PROVIDERS: Record<ProviderName | 'remote', string> = {
  cuda: 'CUDA',
  dml: 'DirectML',
  coreml: 'Core ML',
  webgpu: 'WebGPU',
  cpu: 'CPU',
  remote: 'Remote',
}

export function providerLabel(provider: ProviderName | 'remote'): string {
  return PROVIDERS[provider]
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}
