// The soak bench's invariant checks (tools/bench/soak-*.ts), on hand-made rows, samples and answers.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkStream, checkWhole, emptyApiTally } from '../../../tools/bench/soak-api.ts'
import { checkReplies, firstDifference, memoryFigures, type StoredReply, type StreamedReply } from '../../../tools/bench/soak-check.ts'
import { serverProcesses } from '../../../tools/bench/soak-server.ts'

const MIB = 2 ** 20

function streamed(...replies: [id: string, text: string, done: StreamedReply['done']][]): Map<string, StreamedReply> {
  return new Map(replies.map(([messageId, text, done]) => [messageId, { conversationId: 'c', messageId, text, done }]))
}

function row(id: string, status: StoredReply['status'], content: string, fields: Partial<StoredReply> = {}): StoredReply {
  return { id, conversationId: 'c', status, content, error: status === 'error' ? 'The engine process stopped' : null, hasStats: status === 'complete', ...fields }
}

describe('firstDifference', () => {
  it('is the first differing UTF-16 unit, or the shorter length when one is a prefix', () => {
    assert.equal(firstDifference('abc', 'abd'), 2)
    assert.equal(firstDifference('ab', 'abc'), 2)
    assert.equal(firstDifference('', 'x'), 0)
    assert.equal(firstDifference('😀a', '😁a'), 1)
  })
})

describe('checkReplies', () => {
  it('accepts finished replies that hold exactly what streamed and agree with their done event', () => {
    const check = checkReplies(
      [row('a', 'complete', 'hello 🙂'), row('b', 'interrupted', 'he'), row('c', 'error', '')],
      streamed(
        ['a', 'hello 🙂', { status: 'complete', content: 'hello 🙂' }],
        ['b', 'he', { status: 'interrupted', content: 'he' }],
        ['c', '', { status: 'error', content: '' }],
      ),
    )
    assert.deepEqual(check.violations, [])
    assert.deepEqual(check.statuses, { streaming: 0, complete: 1, interrupted: 1, error: 1 })
    assert.equal(check.whole, 3)
    assert.equal(check.streamedChars, 'hello 🙂'.length + 2)
  })

  it('flags stored text that is not a prefix of what streamed', () => {
    const check = checkReplies([row('a', 'complete', 'hellO')], streamed(['a', 'hello', { status: 'complete', content: 'hellO' }]))
    assert.equal(check.violations.length, 1)
    assert.match(check.violations[0]!, /departs from the streamed text at 4/)
  })

  it('flags stored text longer than what streamed', () => {
    const check = checkReplies([row('a', 'interrupted', 'hello!')], streamed(['a', 'hello', { status: 'interrupted', content: 'hello!' }]))
    assert.match(check.violations[0]!, /departs .* at 5 \(stored 6, streamed 5/)
  })

  it('requires an ended reply to hold all that streamed, whatever its status', () => {
    for (const status of ['complete', 'interrupted', 'error'] as const) {
      const check = checkReplies([row('a', status, 'hel')], streamed(['a', 'hello', { status, content: 'hel' }]))
      assert.equal(check.violations.length, 1, status)
      assert.match(check.violations[0]!, /holding 3 of 5 streamed chars/)
    }
  })

  it('lets a reply cut off by a killed server hold a prefix, streaming or recovered as interrupted', () => {
    const replies = streamed(['a', 'hello world', null])
    for (const status of ['streaming', 'interrupted'] as const) {
      const check = checkReplies([row('a', status, 'hello')], replies, new Set(['a']))
      assert.deepEqual(check.violations, [], status)
      assert.equal(check.charsLost, 6)
      assert.equal(check.whole, 0)
    }
    assert.match(checkReplies([row('a', 'complete', 'hello')], replies, new Set(['a'])).violations[0]!, /neither streaming nor interrupted/)
  })

  it('flags a reply left streaming that no server kill cut off', () => {
    const check = checkReplies([row('a', 'streaming', 'he')], streamed(['a', 'he', null]))
    assert.match(check.violations[0]!, /still streaming/)
  })

  it('flags a row that disagrees with its done event, or ended without one', () => {
    const disagrees = checkReplies([row('a', 'complete', 'hi')], streamed(['a', 'hi', { status: 'interrupted', content: 'hi' }]))
    assert.match(disagrees.violations[0]!, /done event said interrupted/)
    const silent = checkReplies([row('a', 'complete', 'hi')], streamed(['a', 'hi', null]))
    assert.match(silent.violations[0]!, /without a done event/)
  })

  it('flags a failed reply that does not say why, an error text on another status, and a complete reply without stats', () => {
    const check = checkReplies(
      [row('a', 'error', 'x', { error: null }), row('b', 'interrupted', 'y', { error: 'why?' }), row('c', 'complete', 'z', { hasStats: false })],
      streamed(
        ['a', 'x', { status: 'error', content: 'x' }],
        ['b', 'y', { status: 'interrupted', content: 'y' }],
        ['c', 'z', { status: 'complete', content: 'z' }],
      ),
    )
    assert.equal(check.violations.length, 3)
    assert.match(check.violations[0]!, /error text null with status error/)
    assert.match(check.violations[1]!, /error text "why\?" with status interrupted/)
    assert.match(check.violations[2]!, /complete without stats/)
  })

  it('flags a reply that streamed but is not stored', () => {
    const check = checkReplies([], streamed(['gone', 'text', { status: 'complete', content: 'text' }]))
    assert.match(check.violations[0]!, /reply gone: streamed 4 chars but no row holds it/)
  })
})

describe('memoryFigures', () => {
  // 0-4 s warm-up climbing to 100 MiB, a plateau swinging 100-110 (a palindrome: no trend) to 20 s, then 5 s idle.
  const swing = [100, 110, 104, 108, 108, 104, 110, 100]
  const plateau = [...swing, ...swing]
  const samples = [
    ...[20, 40, 60, 80].map((mib, t) => ({ t, bytes: mib * MIB })),
    ...plateau.map((mib, i) => ({ t: 5 + i, bytes: mib * MIB })),
    ...[106, 103, 101, 102, 103].map((mib, i) => ({ t: 21 + i, bytes: mib * MIB })),
  ]

  it('takes the plateau as the median under load after warm-up, and the end as the median of the last samples', () => {
    const m = memoryFigures(samples, { warmupEnd: 5, loadEnd: 20 })
    assert.equal(m.startMiB, 20)
    assert.equal(m.peakMiB, 110)
    assert.equal(m.plateauMiB, 106)
    assert.equal(m.endMiB, 102)
    assert.equal(m.endVsPlateau, 102 / 106)
    assert.ok(Math.abs(m.slopeMiBPerMin) < 1e-9, `a swing without trend, got ${m.slopeMiBPerMin} MiB/min`)
    assert.equal(m.samples, samples.length)
  })

  it('shows a leak as an end above the plateau and a rising slope', () => {
    const leaking = samples.map((s) => ({ t: s.t, bytes: s.bytes + s.t * 4 * MIB }))
    const m = memoryFigures(leaking, { warmupEnd: 5, loadEnd: 20 })
    assert.ok(m.endVsPlateau > 1.2, `end ${m.endMiB} vs plateau ${m.plateauMiB}`)
    assert.ok(Math.abs(m.slopeMiBPerMin - 240) < 30, `slope ${m.slopeMiBPerMin}`)
  })

  it('refuses windows without samples', () => {
    assert.throws(() => memoryFigures(samples, { warmupEnd: 30, loadEnd: 40 }), /no RSS sample between/)
    assert.throws(() => memoryFigures(samples, { warmupEnd: 5, loadEnd: 30 }), /no RSS sample after/)
  })
})

describe('serverProcesses', () => {
  it('finds the server and the engine it forked, not its other children or another server\'s engine', () => {
    const table = [
      { pid: 10, ppid: 1, rssBytes: 100, args: 'node --import tsx src-main/serve/main.ts' },
      { pid: 11, ppid: 10, rssBytes: 5, args: '/node_modules/@esbuild/linux-x64/bin/esbuild --service' },
      { pid: 12, ppid: 10, rssBytes: 50, args: 'node --import file:///x/tsx/dist/loader.mjs /repo/src-main/engine/main.ts' },
      { pid: 13, ppid: 20, rssBytes: 60, args: 'node /repo/src-main/engine/main.ts' },
    ]
    assert.deepEqual(serverProcesses(table, 10), { server: table[0], engine: table[2] })
    assert.deepEqual(serverProcesses(table.slice(0, 2), 10), { server: table[0], engine: null })
  })
})

describe('API answer checks', () => {
  const sse = (...events: string[]): string => events.map((e) => `data: ${e}\n\n`).join('')
  const chunk = (content: string | null, finish: string | null = null): string =>
    JSON.stringify({ choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] })

  it('accepts a stream that ends with a finish_reason and [DONE]', () => {
    const tally = emptyApiTally()
    assert.equal(checkStream(tally, sse(chunk(''), chunk('Hi'), chunk(' there'), chunk(null, 'length'), '[DONE]'), 16), null)
    assert.deepEqual(tally.violations, [])
    assert.equal(tally.completed, 1)
    assert.equal(tally.completionChars, 8)
  })

  it('accepts an engine crash as the last event, and counts it', () => {
    const tally = emptyApiTally()
    const crashed = JSON.stringify({ error: { message: 'stopped', type: 'server_error', param: null, code: 'engine_crashed' } })
    assert.equal(checkStream(tally, sse(chunk('Hi'), crashed), 16), 'engine_crashed')
    assert.deepEqual(tally.violations, [])
    assert.deepEqual(tally.errors, { engine_crashed: 1 })
  })

  it('flags a stream cut off without [DONE], [DONE] without a finish, and an internal error', () => {
    const tally = emptyApiTally()
    checkStream(tally, sse(chunk('Hi')), 16)
    checkStream(tally, sse(chunk('Hi'), '[DONE]'), 16)
    checkStream(tally, sse(JSON.stringify({ error: { code: 'internal_error' } })), 16)
    assert.equal(tally.violations.length, 3)
    assert.match(tally.violations[0]!, /without \[DONE\]/)
    assert.match(tally.violations[1]!, /without a finish_reason/)
    assert.match(tally.violations[2]!, /internal_error/)
    assert.equal(tally.completed, 0)
  })

  it('checks a whole answer for its content and usage within max_tokens', () => {
    const tally = emptyApiTally()
    const answer = (tokens: number): string => JSON.stringify({ choices: [{ message: { content: 'ok' } }], usage: { completion_tokens: tokens } })
    checkWhole(tally, answer(8), 8)
    checkWhole(tally, answer(9), 8)
    checkWhole(tally, '{"choices": []}', 8)
    assert.equal(tally.completed, 1)
    assert.equal(tally.violations.length, 2)
  })
})
