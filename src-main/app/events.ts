// A typed event hub: services emit, transports (IPC, WebSocket) forward to renderers.

import type { EventName, Events } from '../../src-shared/api.ts'

export type EventListener = <E extends EventName>(event: E, payload: Events[E]) => void

export class EventHub {
  readonly #listeners = new Set<EventListener>()

  emit<E extends EventName>(event: E, payload: Events[E]): void {
    for (const listener of this.#listeners) listener(event, payload)
  }

  /** Listens to every event; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
