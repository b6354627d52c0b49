// Where Hearth keeps its files (browser mode: flags, then environment, then defaults), and
// keeping that folder the user's alone in both shells.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface DataPaths {
  dataDir: string
  modelsDir: string
}

/**
 * Conversations, KV snapshots (their token ids decode back to the text) and API keys are the
 * user's alone on Linux and macOS. Windows keeps them private through %APPDATA%'s per-user ACLs,
 * and Node's chmod there only toggles read-only, so nothing is changed on win32.
 */
export const PRIVATE_DIR_MODE = 0o700
export const PRIVATE_FILE_MODE = 0o600
/** Set by each entry point, so that what any part of Hearth writes later (engine included) is 0600/0700 too. */
export const PRIVATE_UMASK = 0o077

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

/**
 * Creates `dir` (parents too) as 0700 and takes back what an older Hearth left readable: the
 * folder itself and each file (0600) and folder (0700) directly in it. Links are not followed.
 * An entry that cannot be changed (another user's) is reported and left: the folder around it
 * already keeps others out.
 */
export function makePrivateDir(dir: string, platform: NodeJS.Platform = process.platform): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
  if (platform === 'win32') return
  restrict(dir, fs.statSync(dir))
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile() && !entry.isDirectory()) continue
    const file = path.join(dir, entry.name)
    try {
      restrict(file, fs.lstatSync(file))
    } catch (err) {
      console.error(`Could not make ${file} private: ${(err as Error).message}`)
    }
  }
}

/** Drops group and other permissions, keeping the owner's. */
function restrict(file: string, info: fs.Stats): void {
  if ((info.mode & 0o077) !== 0) fs.chmodSync(file, info.mode & 0o700)
}
