// Electron entry: lifecycle, the one window, the app protocol and the services behind IPC.

import { app, BrowserWindow, net, protocol, session } from 'electron'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createApp, type App } from '../app/app.ts'
import { registerIpc } from './ipc.ts'
import { APP_ORIGIN, APP_SCHEME, CONTENT_SECURITY_POLICY, lockDownContents } from './security.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const rendererDir = path.resolve(here, '../renderer')
const preloadPath = path.join(here, 'preload.cjs')

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
  app.on('web-contents-created', (_event, contents) => lockDownContents(contents))
  app.on('window-all-closed', () => app.quit())
  app.on('before-quit', () => void services?.close())
  void app.whenReady().then(start)
}

async function start(): Promise<void> {
  serveRenderer()
  const userData = app.getPath('userData')
  services = await createApp({
    shell: 'electron',
    version: app.getVersion(),
    dataDir: process.env.HEARTH_DATA_DIR ?? userData,
    modelsDir: process.env.HEARTH_MODELS_DIR ?? path.join(userData, 'models'),
  })
  registerIpc(services, () => mainWindow)
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false))
  createWindow()
}

/** Serves dist/renderer under hearth://app/ with the CSP header; nothing outside that folder. */
function serveRenderer(): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const { pathname } = new URL(request.url)
    const file = path.normalize(path.join(rendererDir, decodeURIComponent(pathname)))
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

function createWindow(): void {
  mainWindow = new BrowserWindow({
    width: 1200,
    height: 800,
    minWidth: 640,
    minHeight: 480,
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
  mainWindow.once('ready-to-show', () => mainWindow?.show())
  mainWindow.on('closed', () => {
    mainWindow = null
  })
  void mainWindow.loadURL(`${APP_ORIGIN}/index.html`)
}
