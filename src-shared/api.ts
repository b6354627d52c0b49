// The contract between renderer and main: every call and event, typed once.
// Main implements `Api`; Electron IPC and the WebSocket bridge both register API_METHODS.

import type { AppInfo } from './types.ts'

export interface Api {
  appInfo(): Promise<AppInfo>
}

export type ApiMethod = keyof Api

/** Every method of Api, for the transports to register and the preload to expose. */
export const API_METHODS = ['appInfo'] as const satisfies readonly ApiMethod[]

// Compile-time proof that API_METHODS lists every method of Api.
type Missing = Exclude<ApiMethod, (typeof API_METHODS)[number]>
const everyMethodListed: [Missing] extends [never] ? true : Missing = true
void everyMethodListed

export interface Notice {
  level: 'info' | 'warning' | 'error'
  message: string
}

export interface Events {
  /** Something the user should know that no call returned (a fallback, a recovered file). */
  notice: Notice
}

export type EventName = keyof Events

export type Unsubscribe = () => void

export interface EventSource {
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): Unsubscribe
}

/** What renderer code uses: the calls (rejecting with AppError) plus event subscription. */
export interface ApiClient extends Api, EventSource {}

/**
 * What a transport exposes (the preload's `window.api`, the WebSocket client): each call
 * resolves to its CallResult, because only an error's message survives Electron's invoke.
 */
export type Bridge = {
  [M in ApiMethod]: (...args: Parameters<Api[M]>) => Promise<CallResult<Awaited<ReturnType<Api[M]>>>>
} & EventSource

/** Wire format of a call's outcome, the same over IPC and WebSocket. */
export type CallResult<T = unknown> =
  | { ok: true; value: T }
  | { ok: false; error: { code: string; message: string } }
