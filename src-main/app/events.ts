// A typed event hub: services emit, transports (IPC, WebSocket) forward to renderers.

import type { EventName, Events } from '../../src-shared/api.ts'

export type EventListener = <E extends EventName>(event: E, payload: Events[E]) => void

type Pending = { [E in EventName]: { event: E; payload: Events[E] } }[EventName]

export class EventHub {
  readonly #listeners = new Set<EventListener>()
  /** Events from before anyone listened (start-up notices), for the first listener. */
  #pending: Pending[] = []

  emit<E extends EventName>(event: E, payload: Events[E]): void {
    for (const listener of this.#listeners) listener(event, payload)
  }

  /** Emits now, or to the first listener when there is none yet. */
  emitWhenHeard<E extends EventName>(event: E, payload: Events[E]): void {
    if (this.#listeners.size > 0) this.emit(event, payload)
    else this.#pending.push({ event, payload } as Pending)
  }

  /** Listens to every event; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener)
    for (const { event, payload } of this.#pending.splice(0)) listener(event, payload)
    return () => this.#listeners.delete(listener)
  }
}
