// Entry of the engine process: Electron's utilityProcess (process.parentPort) or child_process.fork
// (process.send). Requests run one at a time in arrival order; cancel and info answer at once.

import { AppError } from '../../src-shared/errors.ts'
import type { EngineMessage, HostMessage, Requests, RequestKind } from '../model-format/protocol.ts'
import { Engine } from './engine.ts'

interface Port {
  send(message: EngineMessage): void
  onMessage(handler: (message: HostMessage) => void): void
}

/** Electron's utilityProcess exposes parentPort; its messages arrive wrapped as { data }. */
interface ParentPort {
  postMessage(message: unknown): void
  on(event: 'message', listener: (event: { data: unknown }) => void): void
}

function connect(): Port {
  const parentPort = (process as NodeJS.Process & { parentPort?: ParentPort }).parentPort
  if (parentPort) {
    return {
      send: (m) => parentPort.postMessage(m),
      onMessage: (handler) => parentPort.on('message', (e) => handler(e.data as HostMessage)),
    }
  }
  const send = process.send?.bind(process)
  if (!send) throw new Error('The engine must be started by the engine host (no IPC channel)')
  // Without a parent there is nobody to answer: leave instead of holding the model in memory.
  process.on('disconnect', () => process.exit(0))
  return {
    send: (m) => send(m),
    onMessage: (handler) => process.on('message', (m) => handler(m as HostMessage)),
  }
}

const port = connect()
const engine = new Engine()
/** Ids of requests queued or running; a cancel for any other id is late and ignored. */
const pending = new Set<number>()
const cancelled = new Set<number>()
let queue: Promise<void> = Promise.resolve()

async function handle(message: Exclude<HostMessage, { type: 'cancel' | 'info' }>): Promise<Requests[RequestKind]['result']> {
  switch (message.type) {
    case 'load':
      return engine.load(message.modelDir, message.options)
    case 'generate':
      return engine.generate(
        message.request,
        (text) => port.send({ type: 'token', id: message.id, text }),
        () => cancelled.has(message.id),
      )
    case 'drop-cache':
      await engine.dropCache(message.conversationId)
      return null
    case 'unload':
      await engine.unload()
      return null
  }
}

port.onMessage((message) => {
  if (message.type === 'cancel') {
    if (pending.has(message.id)) cancelled.add(message.id)
    return
  }
  if (message.type === 'info') {
    port.send({ type: 'done', id: message.id, result: engine.info() })
    return
  }
  pending.add(message.id)
  queue = queue.then(async () => {
    try {
      port.send({ type: 'done', id: message.id, result: await handle(message) })
    } catch (err) {
      port.send({ type: 'error', id: message.id, error: AppError.toData(err) })
    } finally {
      pending.delete(message.id)
      cancelled.delete(message.id)
    }
  })
})
