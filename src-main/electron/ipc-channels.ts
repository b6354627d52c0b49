// The Electron IPC channels between main (ipc.ts) and the sandboxed preload, which bundles this file.

/** Renderer to main: one Api call, answered with a CallResult. */
export const CALL_CHANNEL = 'hearth:call'
/** Main to renderer: one event, by name with its payload. */
export const EVENT_CHANNEL = 'hearth:event'
