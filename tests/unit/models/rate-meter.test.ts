import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatBytes, formatDuration } from '../../../src-main/models/format.ts'
import { RateMeter } from '../../../src-main/models/rate-meter.ts'

describe('RateMeter', () => {
  it('averages over the window and estimates the time left', () => {
    const meter = new RateMeter(5000)
    assert.equal(meter.bytesPerSecond(), 0)
    assert.equal(meter.etaSeconds(100), null, 'unknown before two samples')
    meter.sample(0, 0)
    meter.sample(1000, 1_000_000)
    assert.equal(meter.bytesPerSecond(), 1_000_000)
    assert.equal(meter.etaSeconds(2_500_000), 3)
    for (let t = 2000; t <= 20_000; t += 1000) meter.sample(t, 1_000_000 + (t - 1000) * 100)
    assert.equal(meter.bytesPerSecond(), 100_000, 'the early burst has left the window')
  })
})

describe('formatBytes and formatDuration', () => {
  it('use decimal units and m:ss / h:mm:ss', () => {
    assert.equal(formatBytes(999), '999 B')
    assert.equal(formatBytes(1_500_000), '1.5 MB')
    assert.equal(formatBytes(654e6), '654 MB')
    assert.equal(formatDuration(75), '1:15')
    assert.equal(formatDuration(3725), '1:02:05')
  })
})
