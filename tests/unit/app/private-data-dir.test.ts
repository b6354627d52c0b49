// The data folder is the user's alone on Linux and macOS: created 0700, its files 0600, and an
// older Hearth's readable folder taken back at start.

import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createApp } from '../../../src-main/app/app.ts'
import { snapshotFile } from '../../../src-main/model-format/snapshot-name.ts'
import { MIGRATIONS, type Migration } from '../../../src-main/store/migrations.ts'
import { DB_FILE, openStore } from '../../../src-main/store/store.ts'
import { ScriptedEngine } from './scripted-engine.ts'

const skip = process.platform === 'win32' ? 'Windows keeps %APPDATA% private with per-user ACLs; POSIX modes do not apply there' : false

const mode = (file: string): string => (fs.statSync(file).mode & 0o777).toString(8).padStart(3, '0')

let root: string
let umask: number
before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-private-'))
  // The usual desktop umask, under which files are created readable by everyone unless asked.
  umask = process.umask(0o022)
})
after(() => {
  process.umask(umask)
  fs.rmSync(root, { recursive: true, force: true })
})

async function start(dataDir: string): Promise<() => Promise<void>> {
  const app = await createApp({ shell: 'browser', version: '0.0.0', dataDir, modelsDir: path.join(dataDir, 'models'), engine: new ScriptedEngine() })
  return () => app.close()
}

describe('the data folder', { skip }, () => {
  it('is created 0700 with the history, its -wal and -shm 0600', async () => {
    const dataDir = path.join(root, 'fresh', 'Hearth')
    const close = await start(dataDir)
    try {
      assert.equal(mode(dataDir), '700')
      assert.equal(mode(path.join(dataDir, 'kv-cache')), '700')
      for (const name of [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`]) assert.equal(mode(path.join(dataDir, name)), '600', name)
    } finally {
      await close()
    }
  })

  it("takes back an older Hearth's readable folder, history and KV snapshots", async () => {
    const dataDir = path.join(root, 'old')
    fs.mkdirSync(path.join(dataDir, 'kv-cache'), { recursive: true, mode: 0o755 })
    const store = openStore({ dataDir })
    const conversation = store.conversations.create({ title: 'kept' })
    store.close()
    const snapshot = snapshotFile(path.join(dataDir, 'kv-cache'), conversation.id)
    fs.writeFileSync(snapshot, 'tokens', { mode: 0o644 })
    for (const file of [dataDir, path.join(dataDir, 'kv-cache')]) fs.chmodSync(file, 0o755)
    for (const file of [path.join(dataDir, DB_FILE), snapshot]) fs.chmodSync(file, 0o644)

    const close = await start(dataDir)
    try {
      assert.equal(mode(dataDir), '700')
      assert.equal(mode(path.join(dataDir, 'kv-cache')), '700')
      assert.equal(mode(path.join(dataDir, DB_FILE)), '600')
      assert.equal(mode(snapshot), '600')
    } finally {
      await close()
    }
  })

  it('keeps the copy taken before a migration 0600', () => {
    const dataDir = path.join(root, 'migrated')
    openStore({ dataDir }).close()
    const next: Migration = { version: MIGRATIONS.length + 1, up: (db) => db.exec('CREATE TABLE later (x)') }
    const store = openStore({ dataDir, migrations: [...MIGRATIONS, next] })
    try {
      assert.ok(store.report.backup !== null)
      assert.equal(mode(store.report.backup), '600')
      assert.equal(mode(path.join(dataDir, DB_FILE)), '600')
    } finally {
      store.close()
    }
  })
})
