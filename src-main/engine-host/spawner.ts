// How the host starts an engine process. The default forks Node; the desktop app passes a spawner
// over Electron's utilityProcess (this module never imports electron).

import { fork } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { EngineMessage, HostMessage } from '../model-format/protocol.ts'

/** A child process of main that talks in messages, whatever started it (fork or utilityProcess). */
export interface ChildPort<In, Out> {
  send(message: In): void
  onMessage(handler: (message: Out) => void): void
  /** Called once when the process ends, however it ends. */
  onExit(handler: (code: number | null, signal: string | null) => void): void
  kill(): void
  readonly pid: number | undefined
}

/** A running engine process. */
export type EngineProcess = ChildPort<HostMessage, EngineMessage>

export type Spawner = () => EngineProcess

export interface ForkOptions {
  /** The engine entry: a built .js file, or the .ts source (run through tsx). Default: the source. */
  entry?: string
  /** Extra environment for the engine process. */
  env?: NodeJS.ProcessEnv
}

const SOURCE_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'engine', 'main.ts')

/** child_process.fork of the engine entry; .ts entries get `--import tsx`. */
export function forkSpawner(opts: ForkOptions = {}): Spawner {
  const entry = opts.entry ?? SOURCE_ENTRY
  return () => forkChild(entry, opts.env)
}

/** child_process.fork of `entry` as a ChildPort; a .ts entry runs through tsx. */
export function forkChild<In, Out>(entry: string, env: NodeJS.ProcessEnv = {}): ChildPort<In, Out> {
  const child = fork(entry, [], {
    // Resolved here so the child finds tsx whatever its working directory.
    execArgv: entry.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  // A message sent after the process died but before its exit was seen fails with EPIPE (or "channel
  // closed"). The exit handler reports the death; the failed send must not end main as an
  // unhandled 'error' event.
  child.on('error', (err) => {
    if (!isClosedChannel(err)) console.error(`Engine process: ${err.message}`)
  })
  return {
    send: (m) => {
      if (!child.connected) return
      child.send(m as object, (err) => {
        if (err && !isClosedChannel(err)) console.error(`Engine process: ${err.message}`)
      })
    },
    onMessage: (handler) => child.on('message', (m) => handler(m as Out)),
    onExit: (handler) => child.once('exit', handler),
    kill: () => child.kill('SIGKILL'),
    pid: child.pid,
  }
}

/** The errors of writing to a process that has already gone: its exit is reported on its own. */
function isClosedChannel(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_IPC_CHANNEL_CLOSED'
}
