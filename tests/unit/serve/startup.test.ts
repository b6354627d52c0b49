// Browser mode's start-up failures: one line on stderr saying what and where, and a non-zero exit.

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { DB_FILE } from '../../../src-main/store/store.ts'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-serve-start-'))
after(() => fs.rmSync(root, { recursive: true, force: true }))

function serve(dataDir: string, port = 0): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/serve/main.ts', '--data-dir', dataDir, '--port', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    // A start that succeeded by mistake would serve forever: its first stdout line ends it.
    child.stdout.once('data', () => child.kill())
  })
}

describe('npm run serve, when Hearth cannot start', () => {
  it('names a database from a newer Hearth and its file in one line, and exits 1', { timeout: 60_000 }, async () => {
    const dataDir = path.join(root, 'newer')
    fs.mkdirSync(dataDir)
    const file = path.join(dataDir, DB_FILE)
    const db = new Database(file)
    db.exec('CREATE TABLE future (x)')
    db.pragma('user_version = 999')
    db.close()

    const { code, stdout, stderr } = await serve(dataDir)
    assert.equal(code, 1)
    assert.equal(stdout, '')
    const lines = stderr.trim().split('\n')
    assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`)
    assert.match(lines[0]!, /^Hearth could not start: .*newer Hearth/)
    assert.ok(lines[0]!.includes(file), `the line does not name ${file}`)
  })

  it('names the path when the data folder cannot be made, and exits 1', { timeout: 60_000 }, async () => {
    const blocker = path.join(root, 'a-file')
    fs.writeFileSync(blocker, '')
    const dataDir = path.join(blocker, 'Hearth')

    const { code, stderr } = await serve(dataDir)
    assert.equal(code, 1)
    const lines = stderr.trim().split('\n')
    assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`)
    assert.match(lines[0]!, /^Hearth could not start: A file is where a folder should be \(ENOTDIR\)/)
    assert.ok(lines[0]!.includes(dataDir), `the line does not name ${dataDir}`)
  })

  it('names a port that is taken, closes the history it had opened, and exits 1', { timeout: 60_000 }, async (t) => {
    const taken = net.createServer().listen(0, '127.0.0.1')
    await once(taken, 'listening')
    t.after(() => taken.close())
    const { port } = taken.address() as net.AddressInfo
    const dataDir = path.join(root, 'port')

    const { code, stderr } = await serve(dataDir, port)
    assert.equal(code, 1)
    const lines = stderr.trim().split('\n')
    assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`)
    assert.match(lines[0]!, new RegExp(`^Hearth could not start: .*EADDRINUSE.*127\\.0\\.0\\.1:${port}`))
    // A WAL left beside the history would mean the store was never closed.
    assert.deepEqual(fs.readdirSync(dataDir).filter((name) => name.startsWith(DB_FILE)), [DB_FILE])
  })
})
