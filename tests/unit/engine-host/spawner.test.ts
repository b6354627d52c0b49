// forkChild: a message sent to an engine process that has just been killed is lost quietly; the
// death is reported by the exit handler, and main carries on.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { forkChild } from '../../../src-main/engine-host/spawner.ts'

/** Linux's process state letter ('Z' once dead and not yet reaped); null where /proc is not there. */
function state(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? null
  } catch {
    return null
  }
}

describe('forkChild', () => {
  it('survives sending to a process that died before its exit was seen', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hearth-spawner-'))
    try {
      const entry = path.join(dir, 'idle.mjs')
      await writeFile(entry, "process.on('message', () => {}); process.send('ready')\n")
      const child = forkChild<string, string>(entry)
      await new Promise<void>((resolve) => child.onMessage(() => resolve()))
      const exited = new Promise<string | null>((resolve) => child.onExit((_code, signal) => resolve(signal)))
      const errors: unknown[] = []
      const onUncaught = (err: unknown) => errors.push(err)
      process.on('uncaughtException', onUncaught)
      try {
        child.kill()
        // Without yielding to the event loop (which would see the exit), wait until the process is
        // dead: the channel still looks open, and a send writes into a closed pipe.
        const deadline = Date.now() + 2000
        while (state(child.pid!) !== 'Z' && state(child.pid!) !== null && Date.now() < deadline) {
          /* the kernel delivers SIGKILL */
        }
        for (let i = 0; i < 20; i++) child.send(`after death ${i}`)
        assert.equal(await exited, 'SIGKILL')
        await new Promise((resolve) => setImmediate(resolve))
      } finally {
        process.off('uncaughtException', onUncaught)
      }
      assert.deepEqual(errors, [])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
