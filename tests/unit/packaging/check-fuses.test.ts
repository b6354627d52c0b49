// checkFuses: reads the fuse wire from a packed Electron binary and names each fuse set wrong.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { checkFuses } from '../../../tools/dist-check.ts'

const temp = mkdtempSync(path.join(os.tmpdir(), 'hearth-fuses-test-'))
after(() => rmSync(temp, { recursive: true, force: true }))

const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX'

let binaries = 0
/** A binary with Electron's wire layout inside: sentinel, version 1, length, one byte per fuse. */
function binary(fuses: string, sentinel = SENTINEL): string {
  const file = path.join(temp, `electron-${binaries++}`)
  writeFileSync(file, Buffer.concat([Buffer.from('\x7fELF...code...'), Buffer.from(sentinel), Buffer.from([1, fuses.length]), Buffer.from(fuses), Buffer.from('...more code')]))
  return file
}

describe('checkFuses', () => {
  it("passes Hearth's fuses: no run-as-node, NODE_OPTIONS or --inspect; cookie encryption, asar integrity and only-asar on", async () => {
    const result = await checkFuses(binary('01001100'))
    assert.equal(result.status, 'pass', result.detail)
  })

  it("fails Electron's defaults and names every fuse that is wrong", async () => {
    const result = await checkFuses(binary('10110001'))
    assert.equal(result.status, 'fail')
    for (const fuse of ['RunAsNode is on', 'EnableNodeOptionsEnvironmentVariable is on', 'EnableNodeCliInspectArguments is on',
      'EnableCookieEncryption is off', 'EnableEmbeddedAsarIntegrityValidation is off', 'OnlyLoadAppFromAsar is off']) {
      assert.ok(result.detail.includes(fuse), `${fuse} not named in: ${result.detail}`)
    }
  })

  it('fails a single fuse left on and names only it', async () => {
    const result = await checkFuses(binary('11001100'))
    assert.equal(result.status, 'fail')
    assert.equal(result.detail, 'RunAsNode is on, wants off')
  })

  it('fails a wire too short to hold a required fuse', async () => {
    const result = await checkFuses(binary('0100'))
    assert.equal(result.status, 'fail')
    assert.match(result.detail, /EnableEmbeddedAsarIntegrityValidation is missing/)
  })

  it('fails a binary with no fuse wire, saying so', async () => {
    const result = await checkFuses(binary('01001100', 'not-the-sentinel'))
    assert.equal(result.status, 'fail')
    assert.match(result.detail, /Could not find sentinel/)
  })
})
