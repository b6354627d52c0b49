// The desktop app starts, shows itself, and keeps the renderer locked down.

import { _electron as electron, expect, test } from '@playwright/test'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { findElectron } from '../../tools/electron-binary.ts'

const electronBinary = findElectron()

test.describe('Electron app', () => {
  test.skip('missing' in electronBinary, 'missing' in electronBinary ? `Electron cannot start here: ${electronBinary.missing}` : '')

  test('launches a sandboxed window that shows the version', async () => {
    if (!('path' in electronBinary)) return
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hearth-electron-'))
    const app = await electron.launch({
      executablePath: electronBinary.path,
      args: ['.'],
      env: { ...process.env, HEARTH_DATA_DIR: dataDir, HEARTH_MODELS_DIR: path.join(dataDir, 'models') },
    })
    try {
      const window = await app.firstWindow()
      await expect(window.getByTestId('app-info')).toContainText('electron')
      const exposed = await window.evaluate(() => ({
        require: typeof (globalThis as { require?: unknown }).require,
        process: typeof (globalThis as { process?: unknown }).process,
        api: typeof (globalThis as { api?: unknown }).api,
      }))
      expect(exposed).toEqual({ require: 'undefined', process: 'undefined', api: 'object' })
      const prefs = await app.evaluate(({ BrowserWindow }) => {
        // getLastWebPreferences is real but missing from Electron's typings.
        const contents = BrowserWindow.getAllWindows()[0]!.webContents as unknown as {
          getLastWebPreferences(): { contextIsolation?: boolean; sandbox?: boolean; nodeIntegration?: boolean } | null
        }
        const web = contents.getLastWebPreferences()
        return { contextIsolation: web?.contextIsolation, sandbox: web?.sandbox, nodeIntegration: web?.nodeIntegration }
      })
      expect(prefs).toEqual({ contextIsolation: true, sandbox: true, nodeIntegration: false })
    } finally {
      await app.close()
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
