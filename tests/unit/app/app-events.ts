// Shared by the app tests: the events an app emitted, by name, and the next reply to end.

import type { Events } from '../../../src-shared/api.ts'
import type { App } from '../../../src-main/app/app.ts'

export type Recorded = { name: keyof Events; payload: unknown }[]

/** The payloads of every `name` event recorded so far, in order. */
export function named<E extends keyof Events>(events: Recorded, name: E): Events[E][] {
  return events.filter((e) => e.name === name).map((e) => e.payload as Events[E])
}

/** Resolves with the app's next `done` event. */
export function nextDone(app: App): Promise<Events['done']> {
  return new Promise((resolve) => {
    const off = app.events.subscribe((name, payload) => {
      if (name !== 'done') return
      off()
      resolve(payload as Events['done'])
    })
  })
}
