// Runs one measurement in a fresh child process and returns what it sends back (never throws).

import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { EngineName, Job, JobOutcome } from './protocol.ts'

const RUNNERS: Record<EngineName, string> = {
  hearth: fileURLToPath(new URL('./run-hearth.ts', import.meta.url)),
  transformers: fileURLToPath(new URL('./peers/run-transformers.ts', import.meta.url)),
  'llama.cpp': fileURLToPath(new URL('./peers/run-llama-cpp.ts', import.meta.url)),
}

export type ChildFailure = { ok: false; error: string }

/** Forks `file` under tsx, sends `message`, resolves with the child's one reply or a failure. */
export function runInChild<T>(file: string, message: unknown, timeoutMs: number): Promise<T | ChildFailure> {
  return new Promise((resolve) => {
    // --expose-gc: the memory job also samples what is kept after a full collection.
    const child = fork(file, [], { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    let stderr = ''
    let reply: T | ChildFailure | null = null
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000)
    })
    const timer = setTimeout(() => {
      reply ??= { ok: false, error: `timed out after ${Math.round(timeoutMs / 1000)} s` }
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('message', (m: T) => {
      reply = m
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      const tail = stderr.trim().split('\n').slice(-5).join(' | ')
      resolve(reply ?? { ok: false, error: `exited (${signal ?? code}) without a result: ${tail}` })
    })
    child.send(message as object)
  })
}

export function runJob(job: Job, timeoutMs: number): Promise<JobOutcome> {
  return runInChild<JobOutcome>(RUNNERS[job.engine], job, timeoutMs)
}
