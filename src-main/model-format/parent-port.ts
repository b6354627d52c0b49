// A child process's line to main: Electron's utilityProcess (process.parentPort) or
// child_process.fork (process.send), behind one interface. Used by the engine and the GGUF converter.

export interface ParentLink<In, Out> {
  send(message: Out): void
  onMessage(handler: (message: In) => void): void
}

/** Electron's utilityProcess exposes parentPort; its messages arrive wrapped as { data }. */
interface ParentPort {
  postMessage(message: unknown): void
  on(event: 'message', listener: (event: { data: unknown }) => void): void
}

/** The link to whoever started this process; `who` names the process in the error without one. */
export function connectToParent<In, Out>(who: string): ParentLink<In, Out> {
  const parentPort = (process as NodeJS.Process & { parentPort?: ParentPort }).parentPort
  if (parentPort) {
    return {
      send: (m) => parentPort.postMessage(m),
      onMessage: (handler) => parentPort.on('message', (e) => handler(e.data as In)),
    }
  }
  const send = process.send?.bind(process)
  if (!send) throw new Error(`${who} must be started by Hearth's main process (no IPC channel)`)
  // Without a parent there is nobody to answer: leave instead of holding memory.
  process.on('disconnect', () => process.exit(0))
  return {
    send: (m) => send(m),
    onMessage: (handler) => process.on('message', (m) => handler(m as In)),
  }
}
