// Turns job outcomes into the bench report: per-model figures for Hearth and each peer, ratios
// from the same run, fractions of the roofline, and the Markdown table the README shows.

import type { KvDtype } from '../../src-shared/types.ts'
import type { RooflineFigures } from './roofline.ts'
import type { EngineName, JobOutcome, Task } from './protocol.ts'
import { decodeRoofline, median, prefillRoofline, rate, ratio, slope, type ModelCost } from './stats.ts'

export type PeerName = Exclude<EngineName, 'hearth'>
export const PEERS: readonly PeerName[] = ['transformers', 'llama.cpp']

export interface PrefillFigure {
  tokens: number
  /** Prompt tokens / time to first token (best repeat of the best round); null when every try failed. */
  tokensPerSecond: number | null
  ttftMs: number | null
  error?: string
}

export interface DecodeFigure {
  context: number
  tokensPerSecond: number | null
  error?: string
}

export interface EngineFigures {
  prefill: PrefillFigure[]
  decode: DecodeFigure[]
  kvBytesPerToken: number | null
  /** Largest peak RSS over this engine's jobs for the model. */
  peakRssBytes: number | null
  loadMs: number | null
}

export interface MemoryFigure {
  context: number
  steps: number[]
  rss: number[]
  /** Least-squares RSS growth over the second half of the run: ~0 when memory is flat. */
  bytesPerStep: number
  /** The same after a full GC at each sample (null when the runner could not force one). */
  rssAfterGc: number[] | null
  retainedBytesPerStep: number | null
}

export interface ModelReport {
  name: string
  precision: string
  parameters: number
  weightBytes: number
  ggufWeights: 'onnx' | 'seeded'
  /** Hearth's prefill, with its roofline fraction and its ratio to each peer. */
  prefill: (PrefillFigure & RooflineShare & { vs: Record<PeerName, number | null> })[]
  /** Hearth's decode, with the bound at that context and its ratio to each peer. */
  decode: (DecodeFigure & RooflineShare & { roofline: number; vs: Record<PeerName, number | null> })[]
  kvBytesPerToken: number | null
  /** The export's own (fp32) cache bytes a token, what transformers.js keeps; absent in older reports. */
  exportKvBytesPerToken?: number
  peakRssBytes: number | null
  loadMs: number | null
  memory: MemoryFigure | null
  peer: Record<PeerName, EngineFigures>
  roofline: RooflineFigures & { prefillTokensPerSecond: number }
}

/**
 * A figure's share of its bound. The bound is the best witness of the machine's limit, so a share
 * above 1 means the witnesses under-measured the machine: a bug in the bench, never a speed.
 */
export interface RooflineShare {
  ofRoofline: number | null
  /** ofRoofline > 1 (older reports lack it). */
  aboveRoofline?: boolean
}

function share(tokensPerSecond: number | null, bound: number): RooflineShare {
  const of = ratio(tokensPerSecond, bound)
  return { ofRoofline: of, aboveRoofline: of !== null && of > 1 }
}

export interface MachineInfo {
  cpu: string
  cores: number
  memoryGiB: number
  platform: string
  node: string
  onnxruntime: string
  threads: number
  /** Whether Hearth's idle threads busy-waited (older reports lack it). */
  hearthSpinning?: boolean
  /** Hearth's KV cache type where --kv chose one; absent: the model's. */
  hearthKvDtype?: KvDtype
  date: string
}

export interface BenchReport {
  machine: MachineInfo
  quick: boolean
  models: ModelReport[]
}

export interface Outcome {
  engine: EngineName
  task: Task
  outcome: JobOutcome
}

function engineFigures(outcomes: readonly Outcome[], engine: EngineName): EngineFigures {
  const mine = outcomes.filter((o) => o.engine === engine)
  const figures: EngineFigures = { prefill: [], decode: [], kvBytesPerToken: null, peakRssBytes: null, loadMs: null }
  const loads: number[] = []
  // Several rounds measure each point: keep the best, as other processes only ever add time.
  const keepBest = <F extends { tokensPerSecond: number | null }>(list: F[], found: F | undefined, next: F): void => {
    if (!found) list.push(next)
    else if (next.tokensPerSecond !== null && (found.tokensPerSecond ?? -1) < next.tokensPerSecond) Object.assign(found, next, { error: undefined })
  }
  for (const { task, outcome } of mine) {
    if (outcome.ok) {
      figures.peakRssBytes = Math.max(figures.peakRssBytes ?? 0, outcome.peakRssBytes)
      loads.push(outcome.loadMs)
    }
    if (task.kind === 'prefill') {
      const found = figures.prefill.find((f) => f.tokens === task.tokens)
      if (!outcome.ok || outcome.result.kind !== 'prefill') {
        keepBest(figures.prefill, found, { tokens: task.tokens, tokensPerSecond: null, ttftMs: null, error: errorOf(outcome) })
        continue
      }
      const ttft = Math.min(...outcome.result.ttftMs)
      keepBest(figures.prefill, found, { tokens: task.tokens, tokensPerSecond: rate(task.tokens, ttft), ttftMs: ttft })
    } else if (task.kind === 'decode') {
      const found = figures.decode.find((f) => f.context === task.context)
      if (!outcome.ok || outcome.result.kind !== 'decode') {
        keepBest(figures.decode, found, { context: task.context, tokensPerSecond: null, error: errorOf(outcome) })
        continue
      }
      const r = outcome.result
      // The median step: a burst of load from other processes moves it less than the mean.
      keepBest(figures.decode, found, { context: task.context, tokensPerSecond: rate(1, median(r.stepMs)) })
      figures.kvBytesPerToken ??= r.kvBytesPerToken
    }
  }
  figures.loadMs = loads.length > 0 ? median(loads) : null
  figures.prefill.sort((a, b) => a.tokens - b.tokens)
  figures.decode.sort((a, b) => a.context - b.context)
  return figures
}

function errorOf(outcome: JobOutcome): string {
  if (outcome.ok) return `unexpected ${outcome.result.kind} result`
  return outcome.error.split('\n')[0]!.slice(0, 300)
}

function memoryFigure(outcomes: readonly Outcome[]): MemoryFigure | null {
  const found = outcomes.find((o) => o.engine === 'hearth' && o.task.kind === 'memory')
  if (!found || !found.outcome.ok || found.outcome.result.kind !== 'memory') return null
  const { context, steps, rss, rssAfterGc } = found.outcome.result
  const half = Math.floor(steps.length / 2)
  const afterGc = rssAfterGc && rssAfterGc.length === steps.length ? rssAfterGc : null
  return {
    context,
    steps,
    rss,
    bytesPerStep: slope(steps.slice(half), rss.slice(half)),
    rssAfterGc: afterGc,
    retainedBytesPerStep: afterGc ? slope(steps.slice(half), afterGc.slice(half)) : null,
  }
}

export function summarizeModel(
  model: { name: string; precision: string; cost: ModelCost; ggufWeights: 'onnx' | 'seeded' },
  outcomes: readonly Outcome[],
  roofline: RooflineFigures,
): ModelReport {
  const hearth = engineFigures(outcomes, 'hearth')
  const peer = Object.fromEntries(PEERS.map((p) => [p, engineFigures(outcomes, p)])) as Record<PeerName, EngineFigures>
  const prefillBound = prefillRoofline(roofline.matmulFlopsPerSecond, model.cost)
  const vs = <K extends 'tokens' | 'context'>(key: K, at: number, mine: number | null, pick: (f: EngineFigures) => (PrefillFigure | DecodeFigure)[]) =>
    Object.fromEntries(
      PEERS.map((p) => [p, ratio(mine, pick(peer[p]).find((f) => (f as Record<K, number>)[key] === at)?.tokensPerSecond)]),
    ) as Record<PeerName, number | null>
  return {
    name: model.name,
    precision: model.precision,
    parameters: model.cost.parameters,
    weightBytes: model.cost.weightBytes,
    ggufWeights: model.ggufWeights,
    prefill: hearth.prefill.map((f) => ({
      ...f,
      ...share(f.tokensPerSecond, prefillBound),
      vs: vs('tokens', f.tokens, f.tokensPerSecond, (e) => e.prefill),
    })),
    decode: hearth.decode.map((f) => {
      const bound = decodeRoofline(roofline.readBytesPerSecond, model.cost, f.context)
      return {
        ...f,
        roofline: bound,
        ...share(f.tokensPerSecond, bound),
        vs: vs('context', f.context, f.tokensPerSecond, (e) => e.decode),
      }
    }),
    kvBytesPerToken: hearth.kvBytesPerToken,
    exportKvBytesPerToken: model.cost.kvBytesPerToken,
    peakRssBytes: hearth.peakRssBytes,
    loadMs: hearth.loadMs,
    memory: memoryFigure(outcomes),
    peer,
    roofline: { ...roofline, prefillTokensPerSecond: prefillBound },
  }
}

const num = (x: number | null | undefined, digits = 1): string => (x == null || !Number.isFinite(x) ? '—' : x.toFixed(digits))
const times = (x: number | null): string => (x == null ? '—' : `${x.toFixed(2)}x`)
const pct = (x: number | null): string => (x == null ? '—' : `${Math.round(x * 100)}%`)
const ofBound = (s: RooflineShare): string => (s.ofRoofline !== null && s.ofRoofline > 1 ? `**above the witness (${pct(s.ofRoofline)}): bench error**` : pct(s.ofRoofline))

/** The matmul witness and the theoretical peak, in words; older reports give the FLOP/s alone. */
function matmulLine(r: RooflineFigures): string {
  const best = r.matmulWitnesses?.[0]
  const witness =
    `matmul ${num(r.matmulFlopsPerSecond / 1e9, 0)} GFLOP/s` +
    (best
      ? ` (best of ${r.matmulWitnesses!.length} witnesses: ${best.kernel} ${best.m}x${best.k}x${best.n}, ${best.threads} threads${best.spinning ? '' : ' not spinning'})`
      : '')
  const p = r.peak
  if (!p) return witness
  const of = r.matmulFlopsPerSecond / p.flopsPerSecond
  const verdict =
    of <= 1
      ? `the witness reaches ${pct(of)} of it`
      : p.clockFrom === 'cpu MHz'
        ? `the witness is ${pct(of)} of it, so the cores run above the clock cpuinfo shows (at least ${num(r.matmulFlopsPerSecond / (p.cores * p.flopsPerCycle * 1e9), 2)} GHz)`
        : `**the witness is ${pct(of)} of it: bench error**`
  return (
    `${witness}; theoretical peak ${num(p.flopsPerSecond / 1e9, 0)} GFLOP/s (${p.cores} cores x ${num(p.ghz, 2)} GHz from ${p.clockFrom} x ` +
    `${p.flopsPerCycle} FLOP/cycle, ${p.vector}; assumed: ${p.assumed}), ${verdict}`
  )
}
const mib = (x: number | null): string => (x == null ? '—' : `${Math.round(x / 2 ** 20)} MiB`)

/** One Markdown section per model: a row per measurement, a column per engine, then ratios. */
export function renderMarkdown(report: BenchReport): string {
  const m = report.machine
  const lines = [
    `# Hearth benchmark${report.quick ? ' (quick)' : ''}`,
    '',
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, onnxruntime-node ${m.onnxruntime}, ` +
      `${m.threads} threads${m.hearthSpinning === undefined ? '' : ` (Hearth's ${m.hearthSpinning ? 'spinning' : 'sleeping'} when idle${m.hearthKvDtype ? `, its KV cache in ${m.hearthKvDtype}` : ''})`}, ${m.date}. Random weights with the real models' shapes; every figure is from this one run, ` +
      'each measurement in its own process, engines interleaved. Ratios are Hearth / peer (above 1: Hearth is faster).',
  ]
  for (const model of report.models) {
    const r = model.roofline
    const tjs = model.peer.transformers
    const lcpp = model.peer['llama.cpp']
    lines.push(
      '',
      `## ${model.name}`,
      '',
      `${(model.parameters / 1e6).toFixed(0)}M parameters, ${mib(model.weightBytes)} of weights read per token; ` +
        `roofline: memory read ${num(r.readBytesPerSecond / 1e9)} GB/s, ${matmulLine(r)}. ` +
        `GGUF weights: ${model.ggufWeights === 'onnx' ? 'the same as the ONNX file' : 'seeded, same shapes'}.`,
      '',
      '| measurement | Hearth | transformers.js | llama.cpp | vs transformers.js | vs llama.cpp | roofline | Hearth of roofline |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    )
    for (const f of model.prefill) {
      const peerAt = (e: EngineFigures) => e.prefill.find((p) => p.tokens === f.tokens)
      lines.push(
        `| prefill ${f.tokens} tok/s | ${num(f.tokensPerSecond)} | ${num(peerAt(tjs)?.tokensPerSecond)} | ${num(peerAt(lcpp)?.tokensPerSecond)} | ` +
          `${times(f.vs.transformers)} | ${times(f.vs['llama.cpp'])} | ${num(r.prefillTokensPerSecond)} | ${ofBound(f)} |`,
        `| TTFT ${f.tokens} ms | ${num(f.ttftMs, 0)} | ${num(peerAt(tjs)?.ttftMs, 0)} | ${num(peerAt(lcpp)?.ttftMs, 0)} | | | | |`,
      )
    }
    for (const f of model.decode) {
      const peerAt = (e: EngineFigures) => e.decode.find((p) => p.context === f.context)
      lines.push(
        `| decode @${f.context} tok/s | ${num(f.tokensPerSecond)} | ${num(peerAt(tjs)?.tokensPerSecond)} | ${num(peerAt(lcpp)?.tokensPerSecond)} | ` +
          `${times(f.vs.transformers)} | ${times(f.vs['llama.cpp'])} | ${num(f.roofline)} | ${ofBound(f)} |`,
      )
    }
    lines.push(
      `| peak RSS | ${mib(model.peakRssBytes)} | ${mib(tjs.peakRssBytes)} | ${mib(lcpp.peakRssBytes)} | | | | |`,
      // transformers.js keeps the export's fp32 cache (older reports lack the field: Hearth's then was the same).
      `| KV bytes/token | ${num(model.kvBytesPerToken, 0)} | ${tjs.peakRssBytes === null ? '—' : `${num(model.exportKvBytesPerToken ?? model.kvBytesPerToken, 0)} (fp32)`} | ${num(lcpp.kvBytesPerToken, 0)} | | | | |`,
      `| load ms | ${num(model.loadMs, 0)} | ${num(tjs.loadMs, 0)} | ${num(lcpp.loadMs, 0)} | | | | |`,
    )
    if ([...model.prefill, ...model.decode].some((f) => f.aboveRoofline))
      lines.push(
        '',
        'A figure above its roofline is a bench error: the roofline is the best witness of what this machine can do, ' +
          'so an engine past it means a witness under-measured the machine (a kernel, shape or thread setting it does not try, or load during it). ' +
          'Its share is not a share.',
      )
    if (model.memory) {
      const mem = model.memory
      lines.push(
        '',
        `Resident memory over ${mem.steps.at(-1)} decode steps from ${mem.context} tokens: ${mib(mem.rss[0] ?? null)} → ` +
          `${mib(mem.rss.at(-1) ?? null)}, growth over the second half ${num(mem.bytesPerStep / 1024, 1)} KiB/step` +
          (mem.rssAfterGc && mem.retainedBytesPerStep !== null
            ? `; kept after a full GC at each sample (and a pause for freed buffers to go back): ${mib(mem.rssAfterGc[0] ?? null)} → ${mib(mem.rssAfterGc.at(-1) ?? null)}, ` +
              `${num(mem.retainedBytesPerStep / 1024, 1)} KiB/step`
            : '') +
          ` (the cache itself grows ${num((model.kvBytesPerToken ?? 0) / 1024, 1)} KiB/step).`,
      )
    }
    const failures = [
      ...model.prefill.filter((f) => f.error).map((f) => `Hearth prefill ${f.tokens}: ${f.error}`),
      ...model.decode.filter((f) => f.error).map((f) => `Hearth decode @${f.context}: ${f.error}`),
      ...PEERS.flatMap((p) => [
        ...model.peer[p].prefill.filter((f) => f.error).map((f) => `${p} prefill ${f.tokens}: ${f.error}`),
        ...model.peer[p].decode.filter((f) => f.error).map((f) => `${p} decode @${f.context}: ${f.error}`),
      ]),
    ]
    if (failures.length > 0) lines.push('', 'Failed measurements:', ...failures.map((f) => `- ${f}`))
  }
  return `${lines.join('\n')}\n`
}
