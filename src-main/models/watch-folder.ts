// The models folder, watched: a model folder copied in (as the Welcome screen says to), removed
// or renamed by hand shows in the app without a reload. Events come in bursts (a copy writes many
// files), so one change is reported once the folder has been quiet a while; what changed is found
// by listing it again (the library's inspect cache makes an unchanged model cheap).

import { watch, type FSWatcher } from 'node:fs'
import { mkdir } from 'node:fs/promises'

/** Quiet time after the last event before a change is reported: a copy of a model is many writes. */
const QUIET_MS = 750

export interface FolderWatch {
  close(): void
}

/**
 * Calls `onChange` after changes under `dir`, except inside dot folders at its top (downloads and
 * imports stage there [TAG_STAGING], and report their own end). The folder is created if missing.
 * Where the platform cannot watch a tree, nothing is reported and the reason is logged once.
 */
export async function watchModelsFolder(dir: string, onChange: () => void, quietMs = QUIET_MS): Promise<FolderWatch> {
  await mkdir(dir, { recursive: true })
  let timer: NodeJS.Timeout | null = null
  let watcher: FSWatcher | null = null
  const changed = (name: string | null): void => {
    if (!isModelChange(name)) return
    if (timer !== null) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      onChange()
    }, quietMs)
  }
  try {
    watcher = watch(dir, { recursive: true, persistent: false }, (_event, name) => changed(typeof name === 'string' ? name : null))
    watcher.on('error', (err) => {
      console.error(`Watching ${dir} stopped: ${err.message}. Models copied in show after a restart.`)
      watcher?.close()
    })
  } catch (err) {
    console.error(`${dir} cannot be watched (${(err as Error).message}): models copied in show after a restart.`)
  }
  return {
    close() {
      if (timer !== null) clearTimeout(timer)
      watcher?.close()
    },
  }
}

/** Whether a change at `name` (relative to the models folder; null when the platform does not say) can change the list of models. */
export function isModelChange(name: string | null): boolean {
  return !(name?.split(/[\\/]/)[0] ?? '').startsWith('.')
}
