// The CPU's theoretical fp32 peak from what Linux says about it: cores x clock x FLOP per cycle,
// the last from the widest vector and FMA the flags list and an assumed count of FMA units.

export interface CpuPeak {
  /** Physical cores the bench's threads can use: min(threads, cores listed in cpuinfo). */
  cores: number
  ghz: number
  /** `cpuinfo_max_freq` is the highest clock a core reaches; `cpu MHz` is the current (often the nominal) one. */
  clockFrom: 'cpuinfo_max_freq' | 'cpu MHz'
  vector: 'avx512f' | 'avx2' | 'avx' | 'sse'
  fp32Lanes: number
  fma: boolean
  /** Assumed, not read: vector FMA (or add + multiply) pipes per core. */
  fmaUnits: number
  flopsPerCycle: number
  flopsPerSecond: number
  /** What the figure takes on trust, in words. */
  assumed: string
}

/** Pipes per core assumed at full vector width: what server cores with AVX2 or AVX-512 have at most. */
export const ASSUMED_FMA_UNITS = 2

/**
 * The peak from a `/proc/cpuinfo` text and `cpuinfo_max_freq` (kHz, null where the file is
 * absent); null when cpuinfo names no clock. Each assumption errs high, as a ceiling should: two
 * full-width FMA units per core (Zen 4 splits AVX-512 in two halves, some Xeons have one unit),
 * every core at the clock given.
 */
export function cpuPeak(cpuinfo: string, maxFreqKHz: number | null, threads: number): CpuPeak | null {
  const blocks = cpuinfo.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b))
  if (blocks.length === 0) return null
  const field = (block: string, name: string): string | undefined => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(block)?.[1]?.trim()
  const flags = new Set((field(blocks[0]!, 'flags') ?? '').split(/\s+/))
  // SMT siblings share a core's FMA units: count (package, core) pairs, not processors.
  const physical = new Set(blocks.map((b, i) => `${field(b, 'physical id') ?? 0}:${field(b, 'core id') ?? `p${i}`}`))
  const mhz = maxFreqKHz !== null && maxFreqKHz > 0 ? maxFreqKHz / 1000 : Math.max(...blocks.map((b) => Number(field(b, 'cpu MHz') ?? NaN)).filter(Number.isFinite))
  if (!Number.isFinite(mhz) || mhz <= 0) return null
  const vector = flags.has('avx512f') ? 'avx512f' : flags.has('avx2') ? 'avx2' : flags.has('avx') ? 'avx' : 'sse'
  const fp32Lanes = vector === 'avx512f' ? 16 : vector === 'sse' ? 4 : 8
  const fma = flags.has('fma') || flags.has('avx512f')
  // An FMA is 2 FLOP per lane; without FMA the two pipes are an adder and a multiplier, 1 each.
  const flopsPerCycle = fma ? ASSUMED_FMA_UNITS * fp32Lanes * 2 : 2 * fp32Lanes
  const cores = Math.max(1, Math.min(threads, physical.size))
  const ghz = mhz / 1000
  const clockFrom = maxFreqKHz !== null && maxFreqKHz > 0 ? 'cpuinfo_max_freq' : 'cpu MHz'
  return {
    cores,
    ghz,
    clockFrom,
    vector,
    fp32Lanes,
    fma,
    fmaUnits: fma ? ASSUMED_FMA_UNITS : 0,
    flopsPerCycle,
    flopsPerSecond: cores * ghz * 1e9 * flopsPerCycle,
    assumed:
      (fma ? `${ASSUMED_FMA_UNITS} FMA units of ${fp32Lanes * 32} bits per core` : 'one vector adder and one multiplier per core') +
      (clockFrom === 'cpu MHz' ? `; every core at ${ghz.toFixed(2)} GHz, the clock cpuinfo shows (no cpuinfo_max_freq here: a turbo clock above it would raise the peak)` : `; every core at its maximum clock`),
  }
}
