// The speculative-decoding bench's report: its figures, the arithmetic over them (speedups,
// tokens per pass, the aims of issue 17) and the edits made to a prediction (Markdown: spec-markdown.ts).

import type { RooflineFigures } from './roofline.ts'
import { decodeRoofline, median, type ModelCost } from './stats.ts'

export interface SpecMachine {
  cpu: string
  cores: number
  platform: string
  node: string
  onnxruntime: string
  threads: number
  date: string
  /** os.loadavg()'s 1-minute figure when the run started and when it ended: other work on the machine. */
  loadAverage: [number, number]
}

/** One pass over `tokens` new tokens at a fixed context; `vsOne` is its median time over k = 1's. */
export interface CostPoint {
  tokens: number
  /** Median over rounds. */
  ms: number
  /** Fastest round: other processes only ever add time, so on a busy machine this is the steadier figure. */
  minMs: number
  vsOne: number
  minVsOne: number
}

export interface CostCurve {
  model: string
  context: number
  reps: number
  /** How the session updates its cache ('split', 'append', 'copy'). */
  kvUpdate: string
  points: CostPoint[]
  error?: string
}

/** Where a speculative run's drafts could come from. */
export type DraftKind = 'lookup' | 'prediction (exact)' | 'prediction (5% of words edited)' | 'lookup + draft model'

/** One reply decoded plainly and speculatively, greedy, on the trained stories260K model. */
export interface AcceptanceRow {
  task: string
  kind: 'rewrite' | 'free'
  drafts: DraftKind
  /** The draft model's folder name ('stories260K q4'), for 'lookup + draft model'. */
  draftModel?: string
  promptTokens: number
  replyTokens: number
  /** Longest run of reply tokens found word for word in the prompt: does the model copy? */
  copiedRun: number
  drafted: number
  accepted: number
  passes: number
  sources: string[]
  /** The speculative reply's tokens equal the plain one's. */
  identical: boolean
  /**
   * Draft-model rows: the share of the plain reply's tokens the draft model picks itself, greedy,
   * given everything before each (its per-token acceptance, free of the engine's draft lengths).
   */
  agreement?: number
}

export interface AcceptanceReport {
  model: string
  rows: AcceptanceRow[]
  /** Draft-model pairs that could and could not be measured on this machine, and why. */
  pairsMeasured: string[]
  pairsNotMeasured: string[]
  failures: string[]
}

/** One task decoded with speculation off and on, A/B interleaved over `offTokPerSec.length` rounds. */
export interface EndToEndCase {
  task: string
  /** 'rewrite' cases are judged against the 2x and roofline aims, 'free' ones against 0.95x. */
  kind: 'rewrite' | 'free'
  note: string
  promptTokens: number
  replyTokens: number
  offTokPerSec: number[]
  onTokPerSec: number[]
  /** Summed over the speculative rounds. */
  drafted: number
  accepted: number
  passes: number
  sources: string[]
  /** Every speculative reply had the plain reply's tokens. */
  identical: boolean
  /** Prompt plus half the reply: the cache a decode step reads, on average. */
  meanContext: number
  /** Decode's bound at meanContext: memory bandwidth / (weights + cache) bytes. */
  rooflineTokPerSec: number
}

export interface EndToEndReport {
  model: string
  /** Measured before and after the run, each figure the best of the two (roofline.ts); null until then. */
  roofline: RooflineFigures | null
  cost: ModelCost
  cases: EndToEndCase[]
  error?: string
}

export interface Aim {
  what: string
  model: string
  value: number | null
  target: number
  /** '>=': at least the target; '>': above it. */
  compare: '>=' | '>'
  unit: 'x' | 'of roofline'
  /** null when the figure could not be measured. */
  met: boolean | null
}

export interface SpecReport {
  machine: SpecMachine
  quick: boolean
  costCurves: CostCurve[]
  acceptance: AcceptanceReport | null
  endToEnd: EndToEndReport[]
  aims: Aim[]
}

/** The case whose speedup and roofline fraction the rewrite aims are judged on. */
export const REWRITE_JUDGED = 'rewrite, prediction with 5% of words edited'
export const FREE_JUDGED = 'free generation, nothing repeats'
export const MISS_JUDGED = 'free generation, every guess wrong'

/** xs turned left by r places: round r of an interleaved measurement starts at a different item. */
export function rotate<T>(xs: readonly T[], r: number): T[] {
  if (xs.length === 0) return []
  const s = ((r % xs.length) + xs.length) % xs.length
  return [...xs.slice(s), ...xs.slice(0, s)]
}

/** Median over rounds of on / off, each round's pair measured back to back; NaN when none. */
export function pairedSpeedup(off: readonly number[], on: readonly number[]): number {
  const n = Math.min(off.length, on.length)
  const ratios: number[] = []
  for (let i = 0; i < n; i++) if (off[i]! > 0) ratios.push(on[i]! / off[i]!)
  return median(ratios)
}

/**
 * Reply tokens per decode pass. The first token comes from the prefill's logits; every pass
 * after it, plain or verifying, gives the model's own token plus the drafts it accepted.
 */
export function tokensPerPass(replyTokens: number, accepted: number): number | null {
  const fromPasses = replyTokens - 1
  if (fromPasses <= 0) return null
  return fromPasses / Math.max(1, fromPasses - accepted)
}

/** accepted / drafted, or null when nothing was drafted. */
export function acceptance(drafted: number, accepted: number): number | null {
  return drafted > 0 ? accepted / drafted : null
}

/** Longest run of `reply` that occurs contiguously in `source` (a longest common substring). */
export function longestCopiedRun(reply: readonly number[], source: readonly number[]): number {
  let best = 0
  let prev = new Uint32Array(source.length + 1)
  let row = new Uint32Array(source.length + 1)
  for (let i = 1; i <= reply.length; i++) {
    for (let j = 1; j <= source.length; j++) {
      row[j] = reply[i - 1] === source[j - 1] ? prev[j - 1]! + 1 : 0
      if (row[j]! > best) best = row[j]!
    }
    ;[prev, row] = [row, prev]
  }
  return best
}

/** Replacements for edited words: common words, so an edit reads as a changed word, not noise. */
const REPLACEMENTS = ['apple', 'river', 'seven', 'quiet', 'lamp', 'green', 'window', 'slowly', 'paper', 'stone']

/**
 * `text` with round(fraction x words) of its words (runs of non-space), at least one, replaced, chosen by a
 * seeded shuffle: the same inputs give the same edits. Spacing is kept as it was.
 */
export function editWords(text: string, fraction: number, seed: number): { text: string; words: number; changed: number } {
  const parts = text.split(/(\s+)/)
  const wordAt = parts.flatMap((p, i) => (p !== '' && !/^\s+$/.test(p) ? [i] : []))
  // At least one word when any are asked for: a short reply's "5% edited" must not be the exact text.
  const count = fraction > 0 ? Math.min(wordAt.length, Math.max(1, Math.round(fraction * wordAt.length))) : 0
  let state = seed >>> 0 || 1
  const next = (): number => {
    // xorshift32: enough to spread the edits, and stable across runs and platforms.
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 2 ** 32
  }
  const order = [...wordAt]
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(next() * (order.length - i))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  for (const at of order.slice(0, count)) {
    const pick = Math.floor(next() * REPLACEMENTS.length)
    const word = REPLACEMENTS[pick] === parts[at] ? REPLACEMENTS[(pick + 1) % REPLACEMENTS.length]! : REPLACEMENTS[pick]!
    parts[at] = word
  }
  return { text: parts.join(''), words: wordAt.length, changed: count }
}

/** The report with every case's decode roofline at the roofline's read bandwidth. */
export function withRoofline(report: EndToEndReport, roofline: RooflineFigures): EndToEndReport {
  return {
    ...report,
    roofline,
    cases: report.cases.map((c) => ({ ...c, rooflineTokPerSec: decodeRoofline(roofline.readBytesPerSecond, report.cost, c.meanContext) })),
  }
}

/**
 * A prediction every draft from which is wrong: each pair of the reply's consecutive tokens
 * followed by `wrong`, so wherever the reply is, the last two tokens it has are found in the
 * prediction with `wrong` after them ([a, b, c, d] -> [a, b, w, b, c, w, c, d, w]).
 */
export function wrongGuesses(reply: readonly number[], wrong: number): number[] {
  const out: number[] = []
  for (let i = 0; i + 1 < reply.length; i++) out.push(reply[i]!, reply[i + 1]!, wrong)
  return out
}

/**
 * Issue 17's aims at each end-to-end model: rewrite >= 2x plain and above the roofline, free
 * generation >= 0.95x, and (its "never slower") drafts that all miss >= 0.95x.
 */
export function evaluateAims(reports: readonly EndToEndReport[]): Aim[] {
  const aims: Aim[] = []
  const judge = (value: number | null, target: number, compare: Aim['compare']): boolean | null =>
    value === null || !Number.isFinite(value) ? null : compare === '>=' ? value >= target : value > target
  for (const r of reports) {
    const rewrite = r.cases.find((c) => c.task === REWRITE_JUDGED)
    const free = r.cases.find((c) => c.task === FREE_JUDGED)
    const miss = r.cases.find((c) => c.task === MISS_JUDGED)
    const speedup = (c: EndToEndCase | undefined): number | null => (c ? finite(pairedSpeedup(c.offTokPerSec, c.onTokPerSec)) : null)
    const rewriteSpeedup = speedup(rewrite)
    const ofRoofline = rewrite ? finite(median(rewrite.onTokPerSec) / rewrite.rooflineTokPerSec) : null
    const freeSpeedup = speedup(free)
    const missSpeedup = speedup(miss)
    aims.push(
      { what: `${REWRITE_JUDGED}: speculative / plain decode`, model: r.model, value: rewriteSpeedup, target: 2, compare: '>=', unit: 'x', met: judge(rewriteSpeedup, 2, '>=') },
      { what: `${REWRITE_JUDGED}: speculative / decode roofline`, model: r.model, value: ofRoofline, target: 1, compare: '>', unit: 'of roofline', met: judge(ofRoofline, 1, '>') },
      { what: `${FREE_JUDGED}: speculative / plain decode`, model: r.model, value: freeSpeedup, target: 0.95, compare: '>=', unit: 'x', met: judge(freeSpeedup, 0.95, '>=') },
      { what: `${MISS_JUDGED}: speculative / plain decode`, model: r.model, value: missSpeedup, target: 0.95, compare: '>=', unit: 'x', met: judge(missSpeedup, 0.95, '>=') },
    )
  }
  return aims
}

/** x, or null when it is not a finite number. */
export function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null
}
