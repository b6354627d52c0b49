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
  return {
    send: (m) => {
      if (child.connected) child.send(m as object)
    },
    onMessage: (handler) => child.on('message', (m) => handler(m as Out)),
    onExit: (handler) => child.once('exit', handler),
    kill: () => child.kill('SIGKILL'),
    pid: child.pid,
  }
}
