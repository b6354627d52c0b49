// The property suite's seed and run counts. A failure prints fast-check's seed and path; set
// HEARTH_PROPERTY_SEED to that seed to replay it, or to any number to explore further.

import type { Parameters } from 'fast-check'

export const SEED = Number(process.env.HEARTH_PROPERTY_SEED ?? 20261203)

export function runs<T>(numRuns: number): Parameters<T> {
  return { seed: SEED, numRuns }
}
