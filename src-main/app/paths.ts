// Where Hearth keeps its files when not under Electron: flags, then environment, then defaults.

import os from 'node:os'
import path from 'node:path'

export interface DataPaths {
  dataDir: string
  modelsDir: string
}

/** The per-user data directory, as Electron's userData would place it. */
export function defaultDataDir(): string {
  const home = os.homedir()
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Hearth')
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Hearth')
  return path.join(process.env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'Hearth')
}

export function resolveDataPaths(flags: { dataDir?: string | undefined; modelsDir?: string | undefined }): DataPaths {
  const dataDir = path.resolve(flags.dataDir ?? process.env.HEARTH_DATA_DIR ?? defaultDataDir())
  const modelsDir = path.resolve(flags.modelsDir ?? process.env.HEARTH_MODELS_DIR ?? path.join(dataDir, 'models'))
  return { dataDir, modelsDir }
}
