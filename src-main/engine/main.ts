// Entry of the engine process: Electron's utilityProcess (process.parentPort) or child_process.fork
// (process.send). Requests run one at a time in arrival order; cancel and info answer at once.

import { AppError } from '../../src-shared/errors.ts'
import { connectToParent } from '../model-format/parent-port.ts'
import type { EngineMessage, HostMessage, Requests, RequestKind } from '../model-format/protocol.ts'
import { Engine } from './engine.ts'

const port = connectToParent<HostMessage, EngineMessage>('The engine')
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
        (report) => port.send({ type: 'progress', id: message.id, ...report }),
      )
    case 'count-tokens':
      return engine.countTokens(message.texts)
    case 'warm-cache':
      return engine.warmCache(message.conversationId)
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
