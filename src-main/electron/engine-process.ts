// The engine in Electron's utilityProcess: a Chromium-managed child with its own V8, so the model
// never runs on the main process's event loop and a native crash takes only the engine down.

import { utilityProcess } from 'electron'
import type { Spawner } from '../engine-host/spawner.ts'
import type { EngineMessage, HostMessage } from '../model-format/protocol.ts'

/** Starts `entry` (the built engine, dist/main/engine.js) as a utility process per spawn. */
export function utilitySpawner(entry: string): Spawner {
  return () => {
    const child = utilityProcess.fork(entry, [], { serviceName: 'Hearth engine', stdio: 'inherit' })
    let alive = true
    child.once('exit', () => {
      alive = false
    })
    return {
      send: (message: HostMessage) => {
        if (alive) child.postMessage(message)
      },
      onMessage: (handler) => child.on('message', (message: unknown) => handler(message as EngineMessage)),
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
}
