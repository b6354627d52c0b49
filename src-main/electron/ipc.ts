// Registers every Api method once on Electron IPC and forwards events to the window.

import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron'
import type { CallResult } from '../../src-shared/api.ts'
import type { App } from '../app/app.ts'
import { dispatch } from '../app/dispatch.ts'
import { CALL_CHANNEL, EVENT_CHANNEL } from './ipc-channels.ts'
import { isAppUrl } from './security.ts'

export function registerIpc(app: App, getWindow: () => BrowserWindow | null): () => void {
  ipcMain.handle(CALL_CHANNEL, async (event: IpcMainInvokeEvent, method: unknown, args: unknown): Promise<CallResult> => {
    if (!isTrustedSender(event)) {
      return { ok: false, error: { code: 'UNAUTHORIZED', message: 'Calls are accepted only from the app window.' } }
    }
    return dispatch(app.api, method, args)
  })
  const unsubscribe = app.events.subscribe((name, payload) => {
    const win = getWindow()
    if (win && !win.isDestroyed()) win.webContents.send(EVENT_CHANNEL, name, payload)
  })
  return () => {
    ipcMain.removeHandler(CALL_CHANNEL)
    unsubscribe()
  }
}

function isTrustedSender(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame
  return frame !== null && frame.parent === null && isAppUrl(frame.url)
}
