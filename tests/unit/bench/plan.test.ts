import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { interleave, QUICK_PLAN } from '../../../tools/bench/plan.ts'
import { platformPackages } from '../../../tools/bench/peers.ts'
import { promptTokens } from '../../../tools/bench/protocol.ts'

describe('interleave', () => {
  it('runs every engine at every point once per round, rotating which goes first, then the memory check', () => {
    const plan = { ...QUICK_PLAN, rounds: 2 }
    const jobs = interleave(plan, ['hearth', 'transformers', 'llama.cpp'])
    const points = plan.prefillTokens.length + plan.decodeContexts.length
    assert.equal(jobs.length, 2 * points * 3 + 1)
    assert.deepEqual(jobs.slice(0, 6).map((j) => j.engine), ['hearth', 'transformers', 'llama.cpp', 'transformers', 'llama.cpp', 'hearth'])
    // The second round starts one engine further along at the same point.
    assert.deepEqual(jobs.slice(points * 3, points * 3 + 3).map((j) => j.engine), ['transformers', 'llama.cpp', 'hearth'])
    assert.deepEqual(jobs[points * 3]?.task, jobs[0]?.task)
    assert.equal(jobs.at(-1)?.task.kind, 'memory')
  })
  it('leaves the memory check out without Hearth', () => {
    assert.ok(interleave(QUICK_PLAN, ['transformers']).every((j) => j.task.kind !== 'memory'))
  })
})

describe('platformPackages', () => {
  const lock = {
    packages: {
      '': {},
      'node_modules/@node-llama-cpp/linux-x64': { version: '3.21.1', optional: true, os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
      'node_modules/@node-llama-cpp/linux-x64-cuda': { version: '3.21.1', optional: true, os: ['linux'], cpu: ['x64'] },
      'node_modules/@node-llama-cpp/mac-arm64-metal': { version: '3.21.1', optional: true, os: ['darwin'], cpu: ['arm64'] },
      'node_modules/@img/sharp-linuxmusl-x64': { version: '0.35.5', optional: true, os: ['linux'], cpu: ['x64'], libc: ['musl'] },
      'node_modules/@img/sharp-linux-x64': { version: '0.35.5', optional: true, os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
      'node_modules/sharp': { version: '0.35.5' },
      'node_modules/a/node_modules/@img/sharp-linux-x64': { version: '0.1.0', optional: true, os: ['linux'], cpu: ['x64'] },
    },
  }
  it('picks this platform\'s CPU binaries at their locked versions, no GPU builds, no other libc', () => {
    assert.deepEqual(platformPackages(lock, { os: 'linux', cpu: 'x64', libc: 'glibc' }), [
      '@img/sharp-linux-x64@0.35.5',
      '@node-llama-cpp/linux-x64@3.21.1',
    ])
    assert.deepEqual(platformPackages(lock, { os: 'darwin', cpu: 'arm64', libc: null }), ['@node-llama-cpp/mac-arm64-metal@3.21.1'])
  })
})

describe('promptTokens', () => {
  it('is the same prompt for the same seed, never a special id, and inside the vocabulary', () => {
    const a = promptTokens(500, 49152)
    assert.deepEqual(a, promptTokens(500, 49152))
    assert.notDeepEqual(a, promptTokens(500, 49152, 8))
    assert.ok(a.every((t) => t >= 3 && t < 49152))
  })
})
