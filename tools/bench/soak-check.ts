// The soak's invariants as pure functions: stored replies against what clients saw streamed, and
// the server's memory against its plateau.

import type { MessageStatus } from '../../src-shared/types.ts'
import { median, slope } from './stats.ts'

/** What the clients saw of one reply. */
export interface StreamedReply {
  conversationId: string
  messageId: string
  /** Every token event's text in order, over every run (a continued reply streams again under its id). */
  text: string
  /** The last `done` event's message, as main reported it; null while none came. */
  done: { status: MessageStatus; content: string } | null
}

/** An assistant row as the database holds it (content decoded as the store decodes it). */
export interface StoredReply {
  id: string
  conversationId: string
  status: MessageStatus
  content: string
  /** Why it failed: set exactly when the status is 'error'. */
  error: string | null
  /** Whether the row holds generation stats, as every complete reply does. */
  hasStats: boolean
}

export interface ReplyCheck {
  /** Stored assistant rows by status. */
  statuses: Record<MessageStatus, number>
  /** Rows holding all that streamed. */
  whole: number
  /** Streamed characters (UTF-16 units) the rows cut off by a killed server do not hold. */
  charsLost: number
  streamedChars: number
  violations: string[]
}

/** Where `a` and `b` first differ (the shorter one's length when one is a prefix of the other). */
export function firstDifference(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return i
  return n
}

/**
 * Every stored reply holds a prefix of what streamed. A reply whose generation ended holds all of
 * it (main stores the text before it sends `done`) and agrees with its last `done` event; only the
 * replies in `cutOff`, streaming when the server itself was killed, may hold less and still say
 * 'streaming' (or 'interrupted', once a restart has recovered them). A failed reply says why, and
 * only a failed one; a complete one has its stats. Nothing that streamed is missing from the store.
 */
export function checkReplies(
  stored: readonly StoredReply[],
  streamed: ReadonlyMap<string, StreamedReply>,
  cutOff: ReadonlySet<string> = new Set(),
): ReplyCheck {
  const check: ReplyCheck = {
    statuses: { streaming: 0, complete: 0, interrupted: 0, error: 0 },
    whole: 0,
    charsLost: 0,
    streamedChars: 0,
    violations: [],
  }
  const fail = (row: StoredReply, why: string): void => {
    check.violations.push(`reply ${row.id} (${row.status}, conversation ${row.conversationId}): ${why}`)
  }
  const seen = new Set<string>()
  for (const row of stored) {
    seen.add(row.id)
    check.statuses[row.status] += 1
    const reply = streamed.get(row.id)
    const text = reply?.text ?? ''
    check.streamedChars += text.length
    const at = firstDifference(row.content, text)
    if (at < row.content.length) {
      fail(row, `stored text departs from the streamed text at ${at} (stored ${row.content.length}, streamed ${text.length} chars)`)
      continue
    }
    if (row.content.length === text.length) check.whole += 1
    if (cutOff.has(row.id)) {
      check.charsLost += text.length - row.content.length
      if (row.status !== 'streaming' && row.status !== 'interrupted') fail(row, 'cut off by the killed server, yet neither streaming nor interrupted')
      continue
    }
    if (row.status === 'streaming') {
      fail(row, 'still streaming after its generation ended')
      continue
    }
    if ((row.status === 'error') !== (row.error !== null && row.error !== '')) fail(row, `error text ${JSON.stringify(row.error)} with status ${row.status}`)
    if (row.status === 'complete' && !row.hasStats) fail(row, 'complete without stats')
    if (row.content.length !== text.length) fail(row, `ended holding ${row.content.length} of ${text.length} streamed chars`)
    const done = reply?.done ?? null
    if (done === null) fail(row, 'ended without a done event')
    else if (done.status !== row.status || done.content !== row.content) {
      fail(row, `its done event said ${done.status} with ${done.content.length} chars; the row says ${row.status} with ${row.content.length}`)
    }
  }
  for (const reply of streamed.values()) {
    if (!seen.has(reply.messageId)) check.violations.push(`reply ${reply.messageId}: streamed ${reply.text.length} chars but no row holds it`)
  }
  return check
}

export interface RssSample {
  /** Seconds since the soak started. */
  t: number
  bytes: number
}

export interface MemoryFigures {
  startMiB: number
  peakMiB: number
  /** Median over the load after warm-up. */
  plateauMiB: number
  /** Median of the last samples after the load stopped. */
  endMiB: number
  /** endMiB / plateauMiB: at or below 1 when memory returned to its plateau. */
  endVsPlateau: number
  /** Least-squares growth over the plateau window. */
  slopeMiBPerMin: number
  samples: number
}

const MIB = 2 ** 20
/** How many of the last samples the end figure takes the median of. */
const END_SAMPLES = 3

/**
 * Start, peak, plateau (after warm-up, under load) and end (after the load) of one process's
 * RSS. Throws when the plateau window or the time after the load holds no sample.
 */
export function memoryFigures(samples: readonly RssSample[], window: { warmupEnd: number; loadEnd: number }): MemoryFigures {
  const plateau = samples.filter((s) => s.t >= window.warmupEnd && s.t <= window.loadEnd)
  const after = samples.filter((s) => s.t > window.loadEnd)
  if (plateau.length === 0) throw new Error(`no RSS sample between ${window.warmupEnd} s and ${window.loadEnd} s`)
  if (after.length === 0) throw new Error(`no RSS sample after the load ended at ${window.loadEnd} s`)
  const plateauMiB = median(plateau.map((s) => s.bytes)) / MIB
  const endMiB = median(after.slice(-END_SAMPLES).map((s) => s.bytes)) / MIB
  return {
    startMiB: samples[0]!.bytes / MIB,
    peakMiB: Math.max(...samples.map((s) => s.bytes)) / MIB,
    plateauMiB,
    endMiB,
    endVsPlateau: endMiB / plateauMiB,
    slopeMiBPerMin: slope(plateau.map((s) => s.t / 60), plateau.map((s) => s.bytes / MIB)),
    samples: samples.length,
  }
}
