// Where the history lives: `--data-dir` or HEARTH_DATA_DIR when given (browser mode, tests),
// else Electron's userData, else the folder Electron would use, so both modes share history.

import os from 'node:os'
import path from 'node:path'

export const APP_FOLDER = 'Hearth'

export interface DataDirSources {
  argv: readonly string[]
  env: Readonly<Record<string, string | undefined>>
  /** Electron's app.getPath('userData'), when running under Electron. */
  userData?: string
  platform?: NodeJS.Platform
  home?: string
}

export function resolveDataDir(sources: DataDirSources): string {
  const fromArgs = flagValue(sources.argv, '--data-dir')
  if (fromArgs !== null) return path.resolve(fromArgs)
  const fromEnv = sources.env['HEARTH_DATA_DIR']
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(fromEnv)
  if (sources.userData !== undefined) return sources.userData
  return path.join(appDataDir(sources), APP_FOLDER)
}

function flagValue(argv: readonly string[], flag: string): string | null {
  for (const [i, arg] of argv.entries()) {
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1)
    if (arg === flag && argv[i + 1] !== undefined) return argv[i + 1] ?? null
  }
  return null
}

/** Electron's app.getPath('appData') for the platform. */
function appDataDir({ env, platform = process.platform, home = os.homedir() }: DataDirSources): string {
  if (platform === 'win32') return env['APPDATA'] ?? path.join(home, 'AppData', 'Roaming')
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support')
  return env['XDG_CONFIG_HOME'] ?? path.join(home, '.config')
}
