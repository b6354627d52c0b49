// Finds the Electron binary, or says why there is none (no download is possible on some machines).

import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

export function findElectron(): { path: string } | { missing: string } {
  const require = createRequire(import.meta.url)
  const pathFile = path.join(path.dirname(require.resolve('electron/package.json')), 'path.txt')
  if (!existsSync(pathFile)) {
    return { missing: 'its binary was never downloaded (`npm run setup:electron` fetches it, with internet)' }
  }
  const binary = path.join(path.dirname(pathFile), 'dist', readFileSync(pathFile, 'utf8').trim())
  return existsSync(binary) ? { path: binary } : { missing: `its binary is absent at ${binary}` }
}
