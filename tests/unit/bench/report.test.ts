import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { niceMax, renderSvg } from '../../../tools/bench/chart.ts'
import type { JobOutcome, Task } from '../../../tools/bench/protocol.ts'
import type { RooflineFigures } from '../../../tools/bench/roofline.ts'
import { renderMarkdown, summarizeModel, type BenchReport, type Outcome } from '../../../tools/bench/report.ts'

const ROOFLINE = {
  readBytesPerSecond: 10e9,
  ortReadBytesPerSecond: 9e9,
  jsReadBytesPerSecond: 10e9,
  gemvReadBytesPerSecond: 8e9,
  matmulFlopsPerSecond: 100e9,
  threads: 2,
}
const MODEL = {
  name: 'test-model fp32',
  precision: 'fp32',
  cost: { parameters: 100e6, weightBytes: 400e6, kvBytesPerToken: 40_000 },
  ggufWeights: 'onnx' as const,
}

function ok(result: Extract<JobOutcome, { ok: true }>['result'], peakRssBytes = 1e9): JobOutcome {
  return { ok: true, loadMs: 1000, peakRssBytes, result }
}
const prefill = (tokens: number, ttftMs: number[]): JobOutcome => ok({ kind: 'prefill', tokens, ttftMs })
const decode = (context: number, stepMs: number, kv: number | null = 40_000): JobOutcome =>
  ok({ kind: 'decode', context, ttftMs: 100, stepMs: [stepMs, stepMs, 10 * stepMs], kvBytesPerToken: kv })
const P = (tokens: number): Task => ({ kind: 'prefill', tokens, repeats: 3 })
const D = (context: number): Task => ({ kind: 'decode', context, steps: 21 })

const OUTCOMES: Outcome[] = [
  { engine: 'hearth', task: P(512), outcome: prefill(512, [1100, 1000, 1200]) },
  { engine: 'transformers', task: P(512), outcome: prefill(512, [2000]) },
  { engine: 'llama.cpp', task: P(512), outcome: { ok: false, error: 'boom\nstack' } },
  // A second round: slower for transformers.js (ignored), a failure for Hearth (ignored).
  { engine: 'transformers', task: P(512), outcome: prefill(512, [4000]) },
  { engine: 'hearth', task: D(1000), outcome: { ok: false, error: 'second round failed' } },
  { engine: 'hearth', task: D(1000), outcome: decode(1000, 50) },
  { engine: 'transformers', task: D(1000), outcome: decode(1000, 100, null) },
  { engine: 'llama.cpp', task: D(1000), outcome: decode(1000, 25, 20_000) },
  {
    engine: 'hearth',
    task: { kind: 'memory', context: 128, steps: 400, every: 100 },
    outcome: ok({ kind: 'memory', context: 128, steps: [100, 200, 300, 400], rss: [5e8, 9e8, 9e8, 9e8], rssAfterGc: [4e8, 4e8, 5e8, 6e8] }),
  },
]

describe('summarizeModel', () => {
  const m = summarizeModel(MODEL, OUTCOMES, ROOFLINE)

  it('takes the best TTFT and turns it into prefill tokens/s and a ratio to each peer', () => {
    assert.equal(m.prefill[0]?.ttftMs, 1000)
    assert.equal(m.prefill[0]?.tokensPerSecond, 512)
    assert.equal(m.prefill[0]?.vs.transformers, 2)
    assert.equal(m.prefill[0]?.vs['llama.cpp'], null)
    // 100 GFLOP/s over 2 x 100M parameters: at most 500 tok/s.
    assert.equal(m.roofline.prefillTokensPerSecond, 500)
    assert.equal(m.prefill[0]?.ofRoofline, 512 / 500)
  })

  it('marks a figure above its bound as such, and one below it not', () => {
    assert.equal(m.prefill[0]?.aboveRoofline, true)
    assert.equal(m.decode[0]?.aboveRoofline, false)
  })

  it('bounds prefill by the FLOP a token needs when the cost gives them, not 2 per parameter', () => {
    const cost = { ...MODEL.cost, prefillFlopsPerToken: 160e6 }
    const lean = summarizeModel({ ...MODEL, cost }, OUTCOMES, ROOFLINE)
    assert.equal(lean.roofline.prefillTokensPerSecond, 100e9 / 160e6)
    assert.equal(lean.prefill[0]?.aboveRoofline, false)
  })

  it('rates decode by the median step, so one slow step does not move it, and bounds it by weights plus cache', () => {
    const d = m.decode[0]!
    assert.equal(d.tokensPerSecond, 20)
    assert.equal(d.roofline, 10e9 / (400e6 + 40_000 * 1000))
    assert.equal(d.vs.transformers, 2)
    assert.equal(d.vs['llama.cpp'], 0.5)
    assert.equal(m.kvBytesPerToken, 40_000)
    assert.equal(m.peer['llama.cpp'].kvBytesPerToken, 20_000)
  })

  it('keeps the best round of each point, and a failed point as an error, not a zero', () => {
    assert.equal(m.peer.transformers.prefill.length, 1)
    assert.equal(m.peer.transformers.prefill[0]?.ttftMs, 2000)
    assert.equal(m.decode.length, 1)
    assert.equal(m.decode[0]?.error, undefined)
    const f = m.peer['llama.cpp'].prefill[0]!
    assert.equal(f.tokensPerSecond, null)
    assert.equal(f.error, 'boom')
  })

  it('measures memory growth over the second half of the samples only', () => {
    assert.equal(m.memory?.bytesPerStep, 0)
    // After a full GC: 5e8 -> 6e8 bytes between steps 300 and 400.
    assert.equal(m.memory?.retainedBytesPerStep, 1e6)
  })
})

describe('renderMarkdown', () => {
  const report: BenchReport = {
    machine: { cpu: 'Test CPU', cores: 2, memoryGiB: 24, platform: 'linux-x64', node: '20', onnxruntime: '1.30.0', threads: 2, date: 'now' },
    quick: true,
    models: [summarizeModel(MODEL, OUTCOMES, ROOFLINE)],
  }
  const md = renderMarkdown(report)

  it('writes one row per measurement with every engine, the ratios and the roofline share', () => {
    assert.match(md, /^# Hearth benchmark \(quick\)/)
    assert.match(md, /\| decode @1000 tok\/s \| 20\.0 \| 10\.0 \| 40\.0 \| 2\.00x \| 0\.50x \| 22\.7 \| 88% \|/)
  })

  it("gives transformers.js the export's fp32 cache bytes, whatever cache Hearth kept, and none where it did not run", () => {
    // Hearth with an fp16 cache: half the export's bytes a token.
    const half = OUTCOMES.map((o) => (o.engine === 'hearth' && o.task.kind === 'decode' && o.outcome.ok ? { ...o, outcome: decode(1000, 50, 20_000) } : o))
    const fp16 = renderMarkdown({ ...report, models: [summarizeModel(MODEL, half, ROOFLINE)] })
    assert.match(fp16, /\| KV bytes\/token \| 20000 \| 40000 \(fp32\) \| 20000 \|/)
    const alone = renderMarkdown({ ...report, models: [summarizeModel(MODEL, half.filter((o) => o.engine !== 'transformers'), ROOFLINE)] })
    assert.match(alone, /\| KV bytes\/token \| 20000 \| — \| 20000 \|/)
  })

  it('writes a share above 100% as a bench error, not as a share', () => {
    assert.match(md, /\| prefill 512 tok\/s \| 512\.0 \| 256\.0 \| — \| 2\.00x \| — \| 500\.0 \| \*\*above the witness \(102%\): bench error\*\* \|/)
    assert.match(md, /A figure above its roofline is a bench error/)
    const below = renderMarkdown({ ...report, models: [summarizeModel({ ...MODEL, cost: { ...MODEL.cost, prefillFlopsPerToken: 160e6 } }, OUTCOMES, ROOFLINE)] })
    assert.match(below, /\| 625\.0 \| 82% \|/)
    assert.doesNotMatch(below, /bench error/)
  })

  it('names the best matmul witness and sets it against the theoretical peak', () => {
    const peak = { cores: 2, ghz: 2, clockFrom: 'cpuinfo_max_freq' as const, vector: 'avx2' as const, fp32Lanes: 8, fma: true, fmaUnits: 2, flopsPerCycle: 32, flopsPerSecond: 128e9, assumed: '2 FMA units' }
    const witness = { kernel: 'Gemm' as const, m: 256, k: 576, n: 1536, depth: 4, threads: 2, spinning: true, flopsPerSecond: 100e9 }
    const render = (roofline: RooflineFigures) => renderMarkdown({ ...report, models: [summarizeModel(MODEL, OUTCOMES, roofline)] })
    const within = render({ ...ROOFLINE, matmulWitnesses: [witness, { ...witness, kernel: 'MatMul', flopsPerSecond: 90e9 }], peak })
    assert.match(within, /matmul 100 GFLOP\/s \(best of 2 witnesses: Gemm 256x576x1536, 2 threads\); theoretical peak 128 GFLOP\/s \(2 cores x 2\.00 GHz from cpuinfo_max_freq x 32 FLOP\/cycle, avx2; assumed: 2 FMA units\), the witness reaches 78% of it/)
    const overMax = render({ ...ROOFLINE, matmulFlopsPerSecond: 160e9, peak })
    assert.match(overMax, /\*\*the witness is 125% of it: bench error\*\*/)
    const overNominal = render({ ...ROOFLINE, matmulFlopsPerSecond: 160e9, peak: { ...peak, clockFrom: 'cpu MHz' } })
    assert.match(overNominal, /the cores run above the clock cpuinfo shows \(at least 2\.50 GHz\)/)
  })

  it('gives the memory growth as sampled and as kept after a full GC', () => {
    assert.match(md, /growth over the second half 0\.0 KiB\/step; kept after a full GC at each sample \(and a pause for freed buffers to go back\): 381 MiB → 572 MiB, 976\.6 KiB\/step/)
  })

  it('lists failed measurements with their first error line', () => {
    assert.match(md, /- llama\.cpp prefill 512: boom\n/)
  })

  it('renders an SVG with a bar per engine value and a roofline per group', () => {
    const svg = renderSvg(report)
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    // prefill: Hearth and transformers.js (llama.cpp failed); decode: all three.
    assert.equal(svg.match(/<\/title><\/rect>/g)?.length, 5)
    assert.equal(svg.match(/stroke-dasharray="4 3" stroke-width="1.5"\/>/g)?.length, 3)
  })
})

describe('niceMax', () => {
  it('rounds up to 1, 2 or 5 times a power of ten', () => {
    assert.equal(niceMax(3.2), 5)
    assert.equal(niceMax(17), 20)
    assert.equal(niceMax(500), 500)
    assert.equal(niceMax(0), 1)
  })
})
