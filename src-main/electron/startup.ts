// Electron start-up and its failure path: a native dialog saying what failed and where, then exit.
// Without it a failed start left a windowless process holding the single-instance lock, so every
// later launch only woke that dead instance.

import { describeStartupError, startupErrorLine } from '../app/startup-error.ts'

/** What the failure path needs of Electron's `app` and `dialog`; tests pass fakes. */
export interface StartupShell {
  showErrorBox(title: string, content: string): void
  releaseSingleInstanceLock(): void
  exit(code: number): void
}

export interface StartupOptions {
  shell: StartupShell
  /** Named in the dialog as where Hearth keeps its files. */
  dataDir: string
  /** Closes what start() had opened before it failed (the services, the store). */
  cleanup: () => Promise<void>
}

export const STARTUP_FAILED_TITLE = 'Hearth could not start'

/** Runs start(); if it throws, see failStartup. */
export async function runStartup(start: () => Promise<void>, options: StartupOptions): Promise<void> {
  try {
    await start()
  } catch (err) {
    await failStartup(err, options)
  }
}

/**
 * The lock goes first, so that launching Hearth again while the dialog is open starts afresh
 * instead of waking this instance. Exits non-zero; nothing of this instance stays behind.
 */
export async function failStartup(err: unknown, { shell, dataDir, cleanup }: StartupOptions): Promise<void> {
  shell.releaseSingleInstanceLock()
  const { what, where } = describeStartupError(err)
  console.error(startupErrorLine(err, dataDir))
  shell.showErrorBox(STARTUP_FAILED_TITLE, [what, ...(where === null ? [] : [where]), `Data folder: ${dataDir}`].join('\n\n'))
  try {
    await cleanup()
  } catch (closeErr) {
    console.error(`Closing after the failed start failed too: ${(closeErr as Error).message}`)
  }
  shell.exit(1)
}
