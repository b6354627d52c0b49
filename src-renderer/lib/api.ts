// The renderer's one way to main: Electron's preload bridge, or the WebSocket bridge in a browser.

import type { ApiClient, Bridge, CallResult } from '../../src-shared/api.ts'
import type { ErrorCode, ErrorData } from '../../src-shared/errors.ts'
import { connectWebSocketBridge } from './ws-bridge.ts'

declare global {
  interface Window {
    api?: Bridge
  }
}

/** A failed call, as main reported it: the code survives so the UI can react to it. */
export class ApiError extends Error implements ErrorData {
  readonly code: ErrorCode
  constructor(data: ErrorData) {
    super(data.message)
    this.name = 'ApiError'
    this.code = data.code
  }
}

/** Turns a transport whose calls resolve to CallResult into one whose calls throw ApiError. */
export function toClient(bridge: Bridge): ApiClient {
  return new Proxy({} as ApiClient, {
    get(_target, name) {
      if (name === 'on') return bridge.on.bind(bridge)
      const call = (bridge as unknown as Record<string, (...args: unknown[]) => Promise<CallResult>>)[name as string]
      if (typeof call !== 'function') return undefined
      return async (...args: unknown[]) => {
        const result = await call(...args)
        if (!result.ok) throw new ApiError(result.error as ErrorData)
        return result.value
      }
    },
  })
}

export const api: ApiClient = toClient(window.api ?? connectWebSocketBridge(window.location))
