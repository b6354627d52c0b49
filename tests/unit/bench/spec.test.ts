import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { renderSpecMarkdown } from '../../../tools/bench/spec-markdown.ts'
import {
  acceptance,
  editWords,
  evaluateAims,
  FREE_JUDGED,
  longestCopiedRun,
  MISS_JUDGED,
  pairedSpeedup,
  REWRITE_JUDGED,
  rotate,
  tokensPerPass,
  withRoofline,
  wrongGuesses,
  type EndToEndCase,
  type EndToEndReport,
  type SpecReport,
} from '../../../tools/bench/spec-report.ts'

const COST = { parameters: 100e6, weightBytes: 400e6, kvBytesPerToken: 40_000 }
const BW = (readBytesPerSecond: number) => ({
  readBytesPerSecond, ortReadBytesPerSecond: readBytesPerSecond, jsReadBytesPerSecond: 1, gemvReadBytesPerSecond: 1, matmulFlopsPerSecond: 1, threads: 2,
})

function endToEndCase(task: string, kind: EndToEndCase['kind'], off: number[], on: number[]): EndToEndCase {
  return {
    task, kind, note: 'n', promptTokens: 40, replyTokens: 101, offTokPerSec: off, onTokPerSec: on,
    drafted: 80, accepted: 60, passes: 20, sources: ['prediction'], identical: true, meanContext: 90, rooflineTokPerSec: 0,
  }
}

function endToEnd(rewrite: [number[], number[]], free: [number[], number[]], miss: [number[], number[]] = free): EndToEndReport {
  return {
    model: 'm fp32',
    roofline: null,
    cost: COST,
    cases: [endToEndCase(REWRITE_JUDGED, 'rewrite', ...rewrite), endToEndCase(FREE_JUDGED, 'free', ...free), endToEndCase(MISS_JUDGED, 'free', ...miss)],
  }
}

describe('rotate', () => {
  it('starts round r at item r, wrapping, so each item takes every slot over the rounds', () => {
    assert.deepEqual(rotate([1, 2, 4], 0), [1, 2, 4])
    assert.deepEqual(rotate([1, 2, 4], 1), [2, 4, 1])
    assert.deepEqual(rotate([1, 2, 4], 5), [4, 1, 2])
    assert.deepEqual(rotate([], 3), [])
  })
})

describe('pairedSpeedup', () => {
  it("takes the median of each round's on / off, so one slow round does not move it", () => {
    assert.equal(pairedSpeedup([10, 10, 20], [20, 30, 10]), 2)
    assert.equal(pairedSpeedup([10, 20], [15, 20, 99]), 1.25)
    assert.ok(Number.isNaN(pairedSpeedup([], [])))
  })
})

describe('tokensPerPass and acceptance', () => {
  it('counts the prefill token apart and every accepted draft as a pass saved', () => {
    // 101 tokens: 1 from the prefill, 100 from passes; 60 of them accepted drafts: 40 passes.
    assert.equal(tokensPerPass(101, 60), 2.5)
    assert.equal(tokensPerPass(101, 0), 1)
    assert.equal(tokensPerPass(1, 0), null)
    assert.equal(acceptance(8, 6), 0.75)
    assert.equal(acceptance(0, 0), null)
  })
})

describe('longestCopiedRun', () => {
  it('finds the longest run of the reply that occurs contiguously in the source', () => {
    assert.equal(longestCopiedRun([9, 1, 2, 3, 9, 4, 5], [0, 1, 2, 3, 4, 5, 6]), 3)
    assert.equal(longestCopiedRun([1, 3, 2], [1, 2, 3]), 1)
    assert.equal(longestCopiedRun([7, 8], [1, 2]), 0)
    assert.equal(longestCopiedRun([], [1]), 0)
  })
})

describe('editWords', () => {
  const text = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ') + '\n\nend  here'
  it('replaces round(fraction x words) distinct words and keeps the spacing', () => {
    const e = editWords(text, 0.05, 17)
    assert.equal(e.words, 42)
    assert.equal(e.changed, 2)
    const before = text.split(/(\s+)/)
    const after = e.text.split(/(\s+)/)
    assert.equal(after.length, before.length)
    assert.equal(after.filter((p, i) => p !== before[i]).length, 2)
    assert.ok(after.every((p, i) => (/^\s+$/.test(p) ? p === before[i] : true)))
  })

  it('gives the same edits for the same seed and others for another', () => {
    assert.equal(editWords(text, 0.1, 3).text, editWords(text, 0.1, 3).text)
    assert.notEqual(editWords(text, 0.1, 3).text, editWords(text, 0.1, 4).text)
  })

  it('changes nothing at fraction 0, at least one word at any other, and never a word into itself', () => {
    assert.deepEqual(editWords(text, 0, 1), { text, words: 42, changed: 0 })
    assert.equal(editWords('one two three', 0.05, 1).changed, 1)
    const same = 'apple apple apple apple'
    const e = editWords(same, 1, 9)
    assert.equal(e.changed, 4)
    assert.ok(!e.text.split(' ').includes('apple'), e.text)
  })
})

describe('wrongGuesses', () => {
  it('follows every pair of consecutive reply tokens with the wrong one', () => {
    assert.deepEqual(wrongGuesses([1, 2, 3, 4], 9), [1, 2, 9, 2, 3, 9, 3, 4, 9])
    assert.deepEqual(wrongGuesses([1], 9), [])
  })
})

describe('withRoofline and evaluateAims', () => {
  it("bounds each case's decode by bandwidth over weights plus the cache at its mean context", () => {
    const r = withRoofline(endToEnd([[10], [25]], [[10], [10]]), BW(10e9))
    assert.equal(r.roofline?.readBytesPerSecond, 10e9)
    assert.equal(r.cases[0]!.rooflineTokPerSec, 10e9 / (400e6 + 40_000 * 90))
  })

  it('meets the aims at 2x over plain, above the roofline, and free and all-miss at 0.95x', () => {
    // Roofline ~24.8 tok/s: 50 tok/s is above it.
    const aims = evaluateAims([withRoofline(endToEnd([[20, 25], [50, 50]], [[20, 20], [19, 20]], [[20], [20]]), BW(10e9))])
    assert.deepEqual(aims.map((a) => a.met), [true, true, true, true])
    assert.equal(aims[0]!.value, 2.25)
    assert.equal(aims[2]!.value, 0.975)
    assert.equal(aims[3]!.value, 1)
  })

  it('fails each aim on its own figure, and reports an unmeasured one as not measured', () => {
    const aims = evaluateAims([withRoofline(endToEnd([[20], [22]], [[20], [18]], [[20], [30]]), BW(10e9))])
    assert.deepEqual(aims.map((a) => a.met), [false, false, false, true])
    const missing = evaluateAims([{ model: 'm', roofline: null, cost: COST, cases: [], error: 'boom' }])
    assert.deepEqual(missing.map((a) => [a.value, a.met]), [[null, null], [null, null], [null, null], [null, null]])
  })
})

describe('renderSpecMarkdown', () => {
  const report: SpecReport = {
    machine: { cpu: 'CPU', cores: 2, platform: 'linux-x64', node: '20', onnxruntime: '1.30.0', threads: 2, date: '2026-12-03 11:00', loadAverage: [1.5, 2] },
    quick: true,
    costCurves: [
      {
        model: 'm fp32', context: 1024, reps: 3, kvUpdate: 'split',
        points: [{ tokens: 1, ms: 20, minMs: 18, vsOne: 1, minVsOne: 1 }, { tokens: 4, ms: 25, minMs: 21.6, vsOne: 1.25, minVsOne: 1.2 }],
      },
      { model: 'm q4', context: 1024, reps: 3, kvUpdate: '', points: [], error: 'no multi-token pass' },
    ],
    acceptance: {
      model: 'stories',
      rows: [
        { task: 'free', kind: 'free', drafts: 'lookup', promptTokens: 5, replyTokens: 101, copiedRun: 0, drafted: 80, accepted: 60, passes: 20, sources: ['lookup'], identical: false },
        {
          task: 'free', kind: 'free', drafts: 'lookup + draft model', draftModel: 'q4', promptTokens: 5, replyTokens: 101, copiedRun: 0,
          drafted: 80, accepted: 60, passes: 20, sources: ['lookup', 'model'], identical: true, agreement: 0.875,
        },
      ],
      pairsMeasured: [],
      pairsNotMeasured: ['big pairs: no weights'],
      failures: [],
    },
    endToEnd: [withRoofline(endToEnd([[20], [50]], [[20], [18]]), BW(10e9))],
    aims: [],
  }
  report.aims = evaluateAims(report.endToEnd)
  const md = renderSpecMarkdown(report)

  it('shows the cost ratios, a failed curve, acceptance and end-to-end rows', () => {
    assert.match(md, /^# Speculative decoding benchmark \(quick\)/)
    assert.match(md, /load average 1\.5 at the start, 2\.0 at the end/)
    assert.match(md, /\| m fp32 \| split \| 20\.0 ms \(18\.0\) \| 1\.25x \(1\.20x\) \|/)
    assert.match(md, /\| m q4 \| — \| no multi-token pass \|/)
    assert.match(md, /\| free \| lookup \| 5 \| 101 \| 0 \| 80 \| 60 \| 75% \| 2\.50 \| lookup \| — \| \*\*no\*\* \|/)
    assert.match(md, /\| free \| lookup \+ draft model \(q4\) \| 5 \| 101 \| 0 \| 80 \| 60 \| 75% \| 2\.50 \| lookup, model \| 88% \| yes \|/)
    assert.match(md, /Draft-model pairs measured here: none\./)
    assert.match(md, /Not measured here: big pairs: no weights\./)
    assert.match(md, new RegExp(`\\| ${REWRITE_JUDGED} \\| 20\\.0 \\| 50\\.0 \\| 2\\.50x \\|`))
  })

  it('marks each aim met or not met with its figure and target', () => {
    assert.match(md, /speculative \/ plain decode \| m fp32 \| 2\.50x \| ≥ 2x \| met \|/)
    assert.match(md, /speculative \/ decode roofline \| m fp32 \| 202% \| > 100% \| met \|/)
    assert.match(md, new RegExp(`${FREE_JUDGED}: speculative / plain decode \\| m fp32 \\| 0\\.90x \\| ≥ 0\\.95x \\| \\*\\*not met\\*\\* \\|`))
  })
})
