// `npm start`: build what is stale, then open the desktop app, or browser mode where Electron can't run.

import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildParts } from './build.ts'
import { findElectron } from './electron-binary.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)

await buildParts(['renderer', 'main'], true)

let electron = findElectron()
if ('missing' in electron) {
  // Electron fetches its binary on first use; offline that fails within the timeout.
  spawnSync(process.execPath, [path.join(root, 'node_modules/electron/install.js')], { cwd: root, stdio: 'ignore', timeout: 60_000 })
  electron = findElectron()
}

const child =
  'path' in electron
    ? spawn(electron.path, ['.', ...args], { cwd: root, stdio: 'inherit' })
    : (console.log(`Electron cannot start here: ${electron.missing}. Starting browser mode instead.`),
      spawn(process.execPath, ['--import', 'tsx', 'src-main/serve/main.ts', ...args], { cwd: root, stdio: 'inherit' }))

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))
child.on('exit', (code) => process.exit(code ?? 0))
