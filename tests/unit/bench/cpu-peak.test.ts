import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cpuPeak } from '../../../tools/bench/cpu-peak.ts'

/** A /proc/cpuinfo text: one block per processor, `cores` distinct core ids spread over them. */
function cpuinfo(processors: number, cores: number, flags: string, mhz: number | null = 2095.991): string {
  return Array.from({ length: processors }, (_, i) =>
    [
      `processor\t: ${i}`,
      'model name\t: Test CPU',
      ...(mhz === null ? [] : [`cpu MHz\t\t: ${mhz}`]),
      'physical id\t: 0',
      `core id\t\t: ${i % cores}`,
      `flags\t\t: fpu sse sse2 ${flags}`,
    ].join('\n'),
  ).join('\n\n')
}

describe('cpuPeak', () => {
  it('multiplies cores, the clock cpuinfo shows and two 512-bit FMA units on an AVX-512 CPU', () => {
    const p = cpuPeak(cpuinfo(2, 2, 'avx avx2 fma avx512f avx512bw'), null, 2)!
    assert.equal(p.vector, 'avx512f')
    assert.equal(p.flopsPerCycle, 64)
    assert.equal(p.clockFrom, 'cpu MHz')
    assert.ok(Math.abs(p.flopsPerSecond - 2 * 2.095991e9 * 64) < 1)
    assert.match(p.assumed, /2 FMA units of 512 bits per core/)
    assert.match(p.assumed, /turbo/)
  })

  it('takes cpuinfo_max_freq over cpu MHz where it is given', () => {
    const p = cpuPeak(cpuinfo(2, 2, 'avx avx2 fma'), 3_500_000, 2)!
    assert.equal(p.clockFrom, 'cpuinfo_max_freq')
    assert.equal(p.ghz, 3.5)
    assert.equal(p.flopsPerSecond, 2 * 3.5e9 * 32)
    assert.doesNotMatch(p.assumed, /turbo/)
  })

  it('counts SMT siblings once, and no more cores than the bench has threads', () => {
    const info = cpuinfo(8, 4, 'avx avx2 fma')
    assert.equal(cpuPeak(info, 2_000_000, 8)!.cores, 4)
    assert.equal(cpuPeak(info, 2_000_000, 3)!.cores, 3)
  })

  it('counts an adder and a multiplier where there is no FMA', () => {
    const p = cpuPeak(cpuinfo(1, 1, 'avx'), 1_000_000, 1)!
    assert.equal(p.fma, false)
    assert.equal(p.flopsPerCycle, 16)
    assert.equal(cpuPeak(cpuinfo(1, 1, ''), 1_000_000, 1)!.flopsPerCycle, 8)
  })

  it('gives no peak without a clock or without processors', () => {
    assert.equal(cpuPeak(cpuinfo(2, 2, 'avx2 fma', null), null, 2), null)
    assert.equal(cpuPeak('', 2_000_000, 2), null)
  })
})
