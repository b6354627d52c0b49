// The sandboxed preload: exposes `window.api` built from the method list, and nothing else.

import { contextBridge, ipcRenderer } from 'electron'
import { API_METHODS, type Bridge, type CallResult, type EventName, type Events } from '../../src-shared/api.ts'
import { CALL_CHANNEL, EVENT_CHANNEL } from './ipc-channels.ts'

type Listener = (payload: unknown) => void
const listeners = new Map<string, Set<Listener>>()

ipcRenderer.on(EVENT_CHANNEL, (_event, name: string, payload: unknown) => {
  for (const listener of listeners.get(name) ?? []) listener(payload)
})

const api: Record<string, unknown> = {
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
    const set = listeners.get(event) ?? new Set<Listener>()
    listeners.set(event, set)
    set.add(listener as Listener)
    return () => set.delete(listener as Listener)
  },
}
for (const method of API_METHODS) {
  // Results cross as data; the renderer's client turns { ok: false } back into an AppError.
  api[method] = (...args: unknown[]): Promise<CallResult> => ipcRenderer.invoke(CALL_CHANNEL, method, args)
}

contextBridge.exposeInMainWorld('api', api as unknown as Bridge)
