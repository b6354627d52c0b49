// The desktop app starts, shows itself, keeps the renderer locked down, and saves a chat.

import { _electron as electron, expect, test, type ElectronApplication } from '@playwright/test'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Bridge, CallResult } from '../../src-shared/api.ts'
import type { ConversationView, Turn } from '../../src-shared/types.ts'
import { findElectron } from '../../tools/electron-binary.ts'
import { buildModel } from '../../tools/model-builder/build-model.ts'

const electronBinary = findElectron()

function launch(binary: string, dataDir: string): Promise<ElectronApplication> {
  return electron.launch({
    executablePath: binary,
    args: ['.'],
    env: { ...process.env, HEARTH_DATA_DIR: dataDir, HEARTH_MODELS_DIR: path.join(dataDir, 'models') },
  })
}

function unwrap<T>(result: CallResult<T>): T {
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`)
  return result.value
}

test.describe('Electron app', () => {
  test.skip('missing' in electronBinary, 'missing' in electronBinary ? `Electron cannot start here: ${electronBinary.missing}` : '')

  test('launches a sandboxed window that shows the version', async () => {
    if (!('path' in electronBinary)) return
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hearth-electron-'))
    const app = await launch(electronBinary.path, dataDir)
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

  test('answers a message with a tiny model in the engine utility process and keeps it after a restart', async () => {
    if (!('path' in electronBinary)) return
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hearth-electron-'))
    await buildModel(path.join(dataDir, 'models', 'tiny'), { layers: 1 })
    let sent: Turn
    try {
      const app = await launch(electronBinary.path, dataDir)
      try {
        const window = await app.firstWindow()
        // Through the preload bridge, as the renderer calls it; the reply is greedy and short.
        const turn = await window.evaluate(async () => {
          const api = (globalThis as unknown as { api: Bridge }).api
          const created = await api.createConversation({ params: { temperature: 0, maxTokens: 8 } })
          if (!created.ok) return created
          const done = new Promise<void>((resolve) => {
            const off = api.on('done', () => {
              off()
              resolve()
            })
          })
          const sent = await api.send(created.value.id, 'Hello from Electron')
          await done
          return sent
        })
        sent = unwrap(turn as CallResult<Turn>)
        const engines = await app.evaluate(({ app: electronApp }) =>
          electronApp.getAppMetrics().filter((m) => m.type === 'Utility').length,
        )
        expect(engines, 'the engine did not run in a utility process').toBeGreaterThanOrEqual(1)
      } finally {
        await app.close()
      }

      const reopened = await launch(electronBinary.path, dataDir)
      try {
        const window = await reopened.firstWindow()
        const view = unwrap(
          (await window.evaluate(
            (id) => (globalThis as unknown as { api: Bridge }).api.getConversation(id),
            sent.userMessage.conversationId,
          )) as CallResult<ConversationView>,
        )
        expect(view.branch.map((e) => e.message.content)[0]).toBe('Hello from Electron')
        const reply = view.branch[1]?.message
        expect(reply?.id).toBe(sent.reply.id)
        expect(reply?.status).toBe('complete')
        expect(reply?.stats?.generatedTokens).toBeGreaterThan(0)
      } finally {
        await reopened.close()
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
