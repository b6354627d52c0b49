// Electron's start-up failure path, with a fake app and dialog: a dialog that says what and
// where, the single-instance lock released, what was opened closed, and a non-zero exit.

import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { createApp } from '../../../src-main/app/app.ts'
import { describeStartupError } from '../../../src-main/app/startup-error.ts'
import { runStartup, STARTUP_FAILED_TITLE, type StartupShell } from '../../../src-main/electron/startup.ts'
import { DB_FILE } from '../../../src-main/store/store.ts'
import { ScriptedEngine } from '../app/scripted-engine.ts'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-electron-start-'))
after(() => fs.rmSync(root, { recursive: true, force: true }))

/** Records, in order, what the failure path asked of Electron. */
class FakeShell implements StartupShell {
  calls: string[] = []
  dialogs: { title: string; content: string }[] = []
  exitCode: number | null = null

  showErrorBox(title: string, content: string): void {
    this.calls.push('dialog')
    this.dialogs.push({ title, content })
  }

  releaseSingleInstanceLock(): void {
    this.calls.push('release lock')
  }

  exit(code: number): void {
    this.calls.push('exit')
    this.exitCode = code
  }
}

/** The services as Electron's start() creates them, over `dataDir`. */
const startApp = (dataDir: string) => async (): Promise<void> => {
  await createApp({ shell: 'electron', version: '0.0.0', dataDir, modelsDir: path.join(dataDir, 'models'), engine: new ScriptedEngine() })
}

describe('runStartup', () => {
  it('shows what a database from a newer Hearth is and where, releases the lock and exits 1', async () => {
    const dataDir = path.join(root, 'newer')
    fs.mkdirSync(dataDir)
    const file = path.join(dataDir, DB_FILE)
    const db = new Database(file)
    db.exec('CREATE TABLE future (x)')
    db.pragma('user_version = 999')
    db.close()
    const shell = new FakeShell()

    await runStartup(startApp(dataDir), { shell, dataDir, cleanup: async () => undefined })

    assert.deepEqual(shell.calls, ['release lock', 'dialog', 'exit'])
    assert.equal(shell.exitCode, 1)
    const [dialog] = shell.dialogs
    assert.equal(dialog?.title, STARTUP_FAILED_TITLE)
    assert.match(dialog?.content ?? '', /newer Hearth/)
    assert.ok(dialog?.content.includes(file), `the dialog does not name ${file}`)
    assert.ok(dialog?.content.includes(`Data folder: ${dataDir}`))
  })

  it('names the path the system refused when the data folder cannot be made', async () => {
    const blocker = path.join(root, 'a-file')
    fs.writeFileSync(blocker, '')
    const dataDir = path.join(blocker, 'Hearth')
    const shell = new FakeShell()

    await runStartup(startApp(dataDir), { shell, dataDir, cleanup: async () => undefined })

    assert.deepEqual(shell.calls, ['release lock', 'dialog', 'exit'])
    const content = shell.dialogs[0]?.content ?? ''
    assert.match(content, /^A file is where a folder should be \(ENOTDIR\)/)
    assert.ok(content.includes(`\n\n${dataDir}\n\n`), `the dialog does not name ${dataDir}:\n${content}`)
  })

  it('closes what was opened before exiting, and exits even when closing fails', async () => {
    const shell = new FakeShell()
    const cleanup = async (): Promise<void> => {
      shell.calls.push('cleanup')
      throw new Error('the engine did not answer')
    }
    await runStartup(async () => {
      throw new Error('the window could not be created')
    }, { shell, dataDir: root, cleanup })

    assert.deepEqual(shell.calls, ['release lock', 'dialog', 'cleanup', 'exit'])
    assert.equal(shell.exitCode, 1)
    assert.match(shell.dialogs[0]?.content ?? '', /^the window could not be created\n\nData folder: /)
  })

  it('does nothing more when start-up succeeds', async () => {
    const shell = new FakeShell()
    await runStartup(async () => undefined, { shell, dataDir: root, cleanup: async () => undefined })
    assert.deepEqual(shell.calls, [])
  })
})

describe('describeStartupError', () => {
  it('names the address of a port that is taken', () => {
    const err = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8080'), {
      code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port: 8080,
    })
    assert.deepEqual(describeStartupError(err), { what: 'The address is already in use (EADDRINUSE)', where: '127.0.0.1:8080' })
  })

  it("keeps SQLite's words beside its code", () => {
    const err = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    assert.equal(describeStartupError(err).what, 'The history file is locked by another program (SQLITE_BUSY: database is locked)')
  })
})
