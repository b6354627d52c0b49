// What the GGUF importer did to make a model, in the words the model library shows.

import type { ConversionInfo } from '../../src-shared/types.ts'

/** "Converted from x.gguf (llama, 48 F32 tensors) as fp32 — 36 float, 0 exact, 0 requantized". */
export function conversionSummary(c: ConversionInfo): string {
  const types = Object.entries(c.sourceTypes)
    .sort(([ta, a], [tb, b]) => b - a || ta.localeCompare(tb))
    .map(([type, count]) => `${count} ${type}`)
    .join(', ')
  return (
    `Converted from ${c.source} (${c.architecture}, ${types} tensors) as ${c.variant}` +
    ` — ${c.floatTensors} float, ${c.exactTensors} exact, ${c.requantizedTensors} requantized`
  )
}

/** How far requantizing moved the weights; null when no weight changed value. */
export function conversionError(c: ConversionInfo): string | null {
  if (c.requantizedTensors === 0 || c.maxAbsError === null) return null
  const rms = c.rmsError === null ? '' : `, RMS ${figure(c.rmsError)}`
  return `Requantized weights differ from the GGUF's by at most ${figure(c.maxAbsError)}${rms}`
}

/** Three significant digits: enough to compare conversions, without false precision. */
function figure(x: number): string {
  return Number(x.toPrecision(3)).toString()
}
