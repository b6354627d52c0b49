// The speculative-decoding bench's report as Markdown: the aims, the verification cost curve,
// acceptance on real text and the end-to-end table, in the style of the main bench's report.

import { acceptance, finite, pairedSpeedup, tokensPerPass, type AcceptanceReport, type Aim, type CostCurve, type EndToEndReport, type SpecReport } from './spec-report.ts'
import { median } from './stats.ts'

const num = (x: number | null | undefined, digits = 1): string => (x == null || !Number.isFinite(x) ? '—' : x.toFixed(digits))
const times = (x: number | null | undefined): string => (x == null || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}x`)
const pct = (x: number | null): string => (x === null ? '—' : `${Math.round(x * 100)}%`)
const yesNo = (b: boolean): string => (b ? 'yes' : '**no**')

function renderAims(aims: readonly Aim[]): string[] {
  if (aims.length === 0) return []
  return [
    '## Aims (issue 17)',
    '',
    '| aim | model | figure | target | |',
    '|---|---|---:|---:|---|',
    ...aims.map(
      (a) =>
        `| ${a.what} | ${a.model} | ${a.unit === 'x' ? times(a.value) : pct(a.value)} | ${a.compare === '>=' ? '≥' : '>'} ` +
        `${a.unit === 'x' ? `${a.target}x` : pct(a.target)} | ${a.met === null ? 'not measured' : a.met ? 'met' : '**not met**'} |`,
    ),
    '',
  ]
}

function renderCost(curves: readonly CostCurve[]): string[] {
  if (curves.length === 0) return []
  const ks = [...new Set(curves.flatMap((c) => c.points.map((p) => p.tokens)))].sort((a, b) => a - b)
  const context = curves[0]!.context
  return [
    `## Verification cost: one pass over k new tokens at ${context} tokens of context`,
    '',
    `Time of one forward pass (ModelSession#forward, logits for every new position, as verification needs) ` +
      `over k tokens after a ${context}-token cache, relative to k = 1 (plain decode); median over rounds, k interleaved, ` +
      'and in brackets the same from each width\'s fastest round (steadier when other work shares the machine). ' +
      'A pass feeds the last chosen token and k − 1 drafts, so it pays when it yields more tokens than its ratio.',
    '',
    `| model | KV update | ${ks.map((k) => (k === 1 ? 'k=1 ms' : `k=${k}`)).join(' | ')} |`,
    `|---|---|${ks.map(() => '---:').join('|')}|`,
    ...curves.map((c) => {
      if (c.error) return `| ${c.model} | — | ${c.error} |${ks.slice(1).map(() => ' |').join('')}`
      const cells = ks.map((k) => {
        const p = c.points.find((q) => q.tokens === k)
        return !p ? '—' : k === 1 ? `${num(p.ms)} ms (${num(p.minMs)})` : `${times(p.vsOne)} (${times(p.minVsOne)})`
      })
      return `| ${c.model} | ${c.kvUpdate} | ${cells.join(' | ')} |`
    }),
    '',
  ]
}

function renderAcceptance(a: AcceptanceReport | null): string[] {
  if (!a) return []
  const lines = [
    `## Acceptance on real text: ${a.model}`,
    '',
    'Greedy, through Engine#generate: each task decoded plainly and with speculation; drafted and accepted from the ' +
      "reply's stats. \"Copied\" is the longest run of reply tokens found word for word in the prompt (does the model " +
      'copy its input?). Tokens per pass count every decode pass, plain or verifying. How much is drafted follows the ' +
      "engine's timings (draft-length.ts), so it moves from run to run; \"draft agrees\" does not: the share of the plain " +
      "reply's tokens the draft model picks itself, given everything before each.",
    '',
    '| task | drafts from | prompt | reply | copied | drafted | accepted | acceptance | tokens per pass | sources | draft agrees | same tokens as plain |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|',
    ...a.rows.map(
      (r) =>
        `| ${r.task} | ${r.drafts}${r.draftModel ? ` (${r.draftModel})` : ''} | ${r.promptTokens} | ${r.replyTokens} | ${r.copiedRun} | ` +
        `${r.drafted} | ${r.accepted} | ${pct(acceptance(r.drafted, r.accepted))} | ${num(tokensPerPass(r.replyTokens, r.accepted), 2)} | ` +
        `${r.sources.join(', ') || '—'} | ${pct(r.agreement ?? null)} | ${yesNo(r.identical)} |`,
    ),
    '',
    `Draft-model pairs measured here: ${a.pairsMeasured.join('; ') || 'none'}.`,
    '',
    `Not measured here: ${a.pairsNotMeasured.join('; ')}.`,
    '',
  ]
  if (a.failures.length > 0) lines.push('Failed:', ...a.failures.map((f) => `- ${f}`), '')
  return lines
}

function renderEndToEnd(reports: readonly EndToEndReport[]): string[] {
  const lines: string[] = []
  for (const r of reports) {
    const bw = r.roofline
    lines.push(
      `## End to end: ${r.model}`,
      '',
      `Decode tok/s (Engine#generate's decodeTokensPerSecond) with speculation off and on, the two back to back in ` +
        `alternating order each round; speedup is the median of the rounds' ratios. Roofline: memory read ` +
        `${num((bw?.readBytesPerSecond ?? NaN) / 1e9)} GB/s (best of onnxruntime ${num((bw?.ortReadBytesPerSecond ?? NaN) / 1e9)}, ` +
        `JS ${num((bw?.jsReadBytesPerSecond ?? NaN) / 1e9)}, GEMV ${num((bw?.gemvReadBytesPerSecond ?? NaN) / 1e9)}) over ` +
        `${Math.round(r.cost.weightBytes / 2 ** 20)} MiB of weights plus the cache at the task's mean context (prompt plus half the reply).`,
      '',
    )
    if (r.error) {
      lines.push(`Failed: ${r.error}`, '')
      continue
    }
    lines.push(
      '| task | plain tok/s | speculative tok/s | speedup | roofline tok/s | of roofline | acceptance | tokens per pass | same tokens as plain |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---|',
      ...r.cases.map((c) => {
        const on = median(c.onTokPerSec)
        const rounds = Math.max(1, c.onTokPerSec.length)
        return (
          `| ${c.task} | ${num(median(c.offTokPerSec))} | ${num(on)} | ${times(pairedSpeedup(c.offTokPerSec, c.onTokPerSec))} | ` +
          `${num(c.rooflineTokPerSec)} | ${pct(finite(on / c.rooflineTokPerSec))} | ${pct(acceptance(c.drafted, c.accepted))} | ` +
          `${num(tokensPerPass(c.replyTokens, c.accepted / rounds), 2)} | ${yesNo(c.identical)} |`
        )
      }),
      '',
      ...r.cases.map((c) => `- ${c.task}: ${c.note} (${c.promptTokens} prompt tokens, ${c.replyTokens} reply tokens, ${c.offTokPerSec.length} rounds)`),
      '',
    )
  }
  return lines
}

export function renderSpecMarkdown(report: SpecReport): string {
  const m = report.machine
  const lines = [
    `# Speculative decoding benchmark${report.quick ? ' (quick)' : ''}`,
    '',
    `${m.cpu}, ${m.cores} cores, ${m.platform}, Node ${m.node}, onnxruntime-node ${m.onnxruntime}, ${m.threads} threads, ${m.date}; ` +
      `load average ${num(m.loadAverage[0])} at the start, ${num(m.loadAverage[1])} at the end. ` +
      'Verification cost and end to end: random weights with the real models\' shapes; acceptance: the trained stories260K.',
    '',
    ...renderAims(report.aims),
    ...renderCost(report.costCurves),
    ...renderAcceptance(report.acceptance),
    ...renderEndToEnd(report.endToEnd),
  ]
  return `${lines.join('\n').trimEnd()}\n`
}
