// Main's child processes in Electron's utilityProcess: Chromium-managed children with their own V8,
// so the model (and a GGUF conversion) never runs on the main process's event loop and a native
// crash takes only the child down.

import { utilityProcess } from 'electron'
import type { ChildPort, Spawner } from '../engine-host/spawner.ts'
import type { EngineMessage, HostMessage } from '../model-format/protocol.ts'

/** Starts `entry` (the built engine, dist/main/engine.js) as a utility process per spawn. */
export function utilitySpawner(entry: string): Spawner {
  return () => utilityChild<HostMessage, EngineMessage>(entry, 'Hearth engine')
}

/** `entry` (a built .js file) as a utility process speaking in messages. */
export function utilityChild<In, Out>(entry: string, serviceName: string): ChildPort<In, Out> {
  const child = utilityProcess.fork(entry, [], { serviceName, stdio: 'inherit' })
  let alive = true
  child.once('exit', () => {
    alive = false
  })
  return {
    send: (message: In) => {
      if (alive) child.postMessage(message)
    },
    onMessage: (handler) => child.on('message', (message: unknown) => handler(message as Out)),
    // A utility process reports only its exit code; a crash shows as a non-zero code.
    onExit: (handler) => child.once('exit', (code: number) => handler(code, null)),
    kill: () => {
      child.kill()
    },
    get pid() {
      return child.pid
    },
  }
}
