import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import readline from 'node:readline'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { openStore } from '../../../src-main/store/store.ts'
import { streamedText } from './fixtures/stream-text.ts'
import { tempDir } from './helpers.ts'

const CHILD = fileURLToPath(new URL('./fixtures/stream-child.ts', import.meta.url))
const FLUSHES_BEFORE_KILL = 4

interface Ready {
  type: 'ready'
  conversationId: string
  userIds: string[]
  replyId: string
}
interface Flushed {
  type: 'flushed'
  /** Length of the reply in the database after this flush. */
  length: number
  /** Length appended when the flush was seen (the flush itself wrote less or as much). */
  appendedBefore: number
}

describe('Store after a crash mid-stream', () => {
  it('keeps every user message and the reply up to its last flush when the writer is SIGKILLed', { timeout: 120_000 }, async (t) => {
    const dir = tempDir(t)
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], {
      cwd: path.resolve(path.dirname(CHILD), '../../../..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = once(child, 'exit')
    t.after(() => child.kill('SIGKILL'))

    let ready: Ready | null = null
    const flushes: Flushed[] = []
    for await (const line of readline.createInterface({ input: child.stdout })) {
      const event = JSON.parse(line) as Ready | Flushed
      if (event.type === 'ready') ready = event
      else flushes.push(event)
      if (flushes.length === FLUSHES_BEFORE_KILL) {
        child.kill('SIGKILL')
        break
      }
    }
    const [code, signal] = await exited
    assert.deepEqual([code, signal], [null, 'SIGKILL'])
    assert.ok(ready !== null)

    // Each flush wrote everything appended before the previous one was seen: no text waits
    // longer than one flush interval.
    for (let i = 1; i < flushes.length; i++) {
      assert.ok((flushes[i]?.length ?? 0) >= (flushes[i - 1]?.appendedBefore ?? Infinity), `flush ${i}`)
    }
    const lastFlushed = flushes.at(-1)?.length ?? 0

    const store = openStore({ dataDir: dir })
    try {
      assert.equal(store.report.interrupted, 1)
      assert.equal(store.report.movedAside, null)
      assert.deepEqual(
        ready.userIds.map((id) => store.messages.get(id).content),
        ['question 0', 'question 1', 'question 2', 'final question'],
      )
      const reply = store.messages.get(ready.replyId)
      assert.equal(reply.status, 'interrupted')
      assert.ok(reply.content.length >= lastFlushed, `${reply.content.length} chars kept, ${lastFlushed} were flushed`)
      assert.ok(streamedText(reply.content.length).startsWith(reply.content), 'the kept text is what was streamed')
      assert.equal(store.messages.branch(ready.conversationId).at(-1)?.message.id, ready.replyId)
      assert.equal(store.search('w1').at(0)?.messageId, ready.replyId)
    } finally {
      store.close()
    }

    const db = new Database(store.file)
    try {
      assert.deepEqual(db.pragma('quick_check'), [{ quick_check: 'ok' }])
      assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }])
      // rank 1: also compares the index with the messages it was built from.
      db.prepare(`INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)`).run()
    } finally {
      db.close()
    }
  })
})
