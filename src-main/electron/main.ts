// Electron entry: lifecycle, the one window, the app protocol and the services behind IPC.

import { app, BrowserWindow, dialog, Menu, net, protocol, safeStorage, screen, session, shell } from 'electron'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { AppError } from '../../src-shared/errors.ts'
import { createApp, type App } from '../app/app.ts'
import { hostEngine } from '../app/engine-port.ts'
import { PRIVATE_UMASK } from '../app/paths.ts'
import { DocumentExtractor } from '../documents/extract.ts'
import { EngineHost } from '../engine-host/engine-host.ts'
import { utilityChild, utilitySpawner } from './engine-process.ts'
import { registerIpc } from './ipc.ts'
import { menuTemplate } from './menu.ts'
import { DEFAULT_SIZE, MIN_SIZE, restoreBounds } from './window-bounds.ts'
import { APP_ORIGIN, APP_SCHEME, CONTENT_SECURITY_POLICY, lockDownContents, lockDownSession } from './security.ts'
import { runStartup } from './startup.ts'
import { safeStorageBox } from '../remote/secret-box.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const rendererDir = path.resolve(here, '../renderer')
const preloadPath = path.join(here, 'preload.cjs')
const userData = app.getPath('userData')
const dataDir = process.env.HEARTH_DATA_DIR ?? userData

// Before anything is written: what Hearth and its engine process create is the user's alone.
if (process.platform !== 'win32') process.umask(PRIVATE_UMASK)

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
])

let mainWindow: BrowserWindow | null = null
let services: App | null = null

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.on('second-instance', () => {
    if (!mainWindow) return
    if (mainWindow.isMinimized()) mainWindow.restore()
    mainWindow.focus()
  })
  app.on('web-contents-created', (_event, contents) => lockDownContents(contents, shell))
  app.on('window-all-closed', () => app.quit())
  // Quitting waits for the services to close: replies stored, the engine's caches persisted.
  let closed = false
  app.on('before-quit', (event) => {
    if (closed || services === null) return
    event.preventDefault()
    closed = true
    void services.close().finally(() => app.quit())
  })
  void app.whenReady().then(() => runStartup(start, {
    shell: {
      showErrorBox: (title, content) => dialog.showErrorBox(title, content),
      releaseSingleInstanceLock: () => app.releaseSingleInstanceLock(),
      exit: (code) => app.exit(code),
    },
    dataDir,
    cleanup: async () => {
      await services?.close()
    },
  }))
}

async function start(): Promise<void> {
  lockDownSession(session.defaultSession)
  serveRenderer()
  services = await createApp({
    shell: 'electron',
    version: app.getVersion(),
    dataDir,
    modelsDir: process.env.HEARTH_MODELS_DIR ?? path.join(userData, 'models'),
    engine: hostEngine(new EngineHost({ spawn: utilitySpawner(path.join(here, 'engine.js')) })),
    converter: { entry: path.join(here, 'convert.js'), spawn: (entry) => utilityChild(entry, 'Hearth GGUF import') },
    extractor: new DocumentExtractor({ entry: path.join(here, 'extract.js'), spawn: (entry) => utilityChild(entry, 'Hearth document reader'), readyAtStart: true }),
    pickFolder,
    pickGgufFile,
    openPath: async (dir) => {
      const failed = await shell.openPath(dir)
      if (failed !== '') throw new AppError('NOT_FOUND', `The folder ${dir} could not be opened: ${failed}`)
    },
    secrets: safeStorageBox(safeStorage),
  })
  registerIpc(services, () => mainWindow)
  const events = services.events
  Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate(process.platform, (command) => events.emit('menuCommand', { command }))))
  await createWindow(services)
}

async function pickFolder(): Promise<string | null> {
  const options = { title: 'Choose a model folder', properties: ['openDirectory' as const] }
  const result = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options)
  return result.canceled ? null : (result.filePaths[0] ?? null)
}

// A dialog of its own: on Windows and Linux one cannot choose both files and folders. "All files"
// too, because Ollama's blobs have no extension.
async function pickGgufFile(): Promise<string | null> {
  const options = {
    title: 'Choose a GGUF model file',
    properties: ['openFile' as const],
    filters: [
      { name: 'GGUF models', extensions: ['gguf'] },
      { name: 'All files', extensions: ['*'] },
    ],
  }
  const result = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options)
  return result.canceled ? null : (result.filePaths[0] ?? null)
}

/** Serves dist/renderer under hearth://app/ with the CSP header; nothing outside that folder. */
function serveRenderer(): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const { pathname } = new URL(request.url)
    let decoded: string
    try {
      decoded = decodeURIComponent(pathname)
    } catch {
      return new Response('Bad request', { status: 400 })
    }
    const file = path.normalize(path.join(rendererDir, decoded))
    if (!file.startsWith(rendererDir + path.sep) && file !== rendererDir) {
      return new Response('Not found', { status: 404 })
    }
    const target = pathname === '/' ? path.join(rendererDir, 'index.html') : file
    const response = await net.fetch(pathToFileURL(target).toString())
    const headers = new Headers(response.headers)
    headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    headers.set('X-Content-Type-Options', 'nosniff')
    return new Response(response.body, { status: response.status, headers })
  })
}

async function createWindow(services: App): Promise<void> {
  const { windowBounds } = await services.api.getSettings()
  const bounds = restoreBounds(windowBounds, screen.getAllDisplays().map((d) => d.workArea))
  const win = new BrowserWindow({
    ...(bounds ? { x: bounds.x, y: bounds.y, width: bounds.width, height: bounds.height } : DEFAULT_SIZE),
    minWidth: MIN_SIZE.width,
    minHeight: MIN_SIZE.height,
    title: 'Hearth',
    show: false,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: true,
    },
  })
  mainWindow = win
  win.once('ready-to-show', () => {
    if (bounds?.maximized) win.maximize()
    win.show()
  })
  rememberBounds(win, services)
  win.on('closed', () => {
    mainWindow = null
  })
  void win.loadURL(`${APP_ORIGIN}/index.html`)
}

/** Saves size and place a moment after the user stops moving the window, and on close. */
function rememberBounds(win: BrowserWindow, services: App): void {
  let timer: NodeJS.Timeout | null = null
  const save = (): void => {
    if (timer !== null) clearTimeout(timer)
    timer = null
    if (win.isDestroyed() || win.isMinimized() || win.isFullScreen()) return
    const { x, y, width, height } = win.getNormalBounds()
    void services.api.setSettings({ windowBounds: { x, y, width, height, maximized: win.isMaximized() } })
  }
  const later = (): void => {
    if (timer !== null) clearTimeout(timer)
    timer = setTimeout(save, 1000)
  }
  win.on('resized', later)
  win.on('moved', later)
  win.on('maximize', later)
  win.on('unmaximize', later)
  win.on('close', save)
}
