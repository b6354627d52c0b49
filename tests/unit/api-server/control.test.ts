// ApiServerControl: the server follows Settings and its options file; a taken port is reported,
// the network needs a key, and the key file is readable by this user only.

import { afterEach, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { AppError } from '../../../src-shared/errors.ts'
import { DEFAULT_SETTINGS, type Settings } from '../../../src-shared/types.ts'
import { ApiServerControl, networkUrls } from '../../../src-main/api-server/control.ts'
import { request, ScriptedBackend } from './helpers.ts'

let dataDir: string
let settings: Settings
let control: ApiServerControl

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'hearth-api-control-'))
  settings = { ...DEFAULT_SETTINGS, apiServerPort: 0 }
  control = new ApiServerControl({ dataDir, backend: new ScriptedBackend(), settings: () => settings })
})
afterEach(async () => {
  await control.close()
  await rm(dataDir, { recursive: true, force: true })
})

const portOf = (url: string | null): number => Number(new URL(url ?? 'http://x:1').port)

describe('ApiServerControl', () => {
  it('is off by default and listens on loopback once enabled', async () => {
    assert.deepEqual(await control.apply(), { enabled: false, url: null, error: null, network: false, networkUrls: [], apiKey: null, allowedOrigins: [] })
    settings = { ...settings, apiServerEnabled: true }
    const on = await control.apply()
    assert.match(on.url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
    assert.equal((await request(portOf(on.url), 'GET', '/v1/models')).status, 200)
    settings = { ...settings, apiServerEnabled: false }
    assert.equal((await control.apply()).url, null)
    await assert.rejects(request(portOf(on.url), 'GET', '/v1/models'), /ECONNREFUSED/)
  })

  it('reports a port that another program holds instead of failing', async () => {
    const other = http.createServer()
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    try {
      settings = { ...settings, apiServerEnabled: true, apiServerPort: (other.address() as AddressInfo).port }
      const status = await control.apply()
      assert.equal(status.url, null)
      assert.match(status.error ?? '', /already in use/)
    } finally {
      other.close()
    }
  })

  it('makes a key when opened to the network, applies it at once, and keeps it in a 0600 file', async () => {
    settings = { ...settings, apiServerEnabled: true }
    await control.apply()
    const open = await control.configure({ network: true })
    assert.equal(open.network, true)
    assert.match(open.apiKey ?? '', /^hearth-/)
    const port = portOf(open.url)
    // Where other devices reach it: this machine's addresses, each at the port it listens on.
    assert.deepEqual(open.networkUrls, networkUrls(port))
    assert.equal((await request(port, 'GET', '/v1/models')).status, 401)
    assert.equal((await request(port, 'GET', '/v1/models', { headers: { authorization: `Bearer ${open.apiKey}` } })).status, 200)
    await assert.rejects(control.configure({ apiKey: null }), /needs an API key/)
    const file = path.join(dataDir, 'api-server.json')
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    assert.equal(JSON.parse(await readFile(file, 'utf8')).apiKey, open.apiKey)
  })

  it('names the addresses other devices use: IPv4 and global IPv6, not loopback or link-local', () => {
    const at = (address: string, family: 'IPv4' | 'IPv6', internal = false): os.NetworkInterfaceInfo =>
      ({ address, family, internal, netmask: '', mac: '', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as os.NetworkInterfaceInfo
    const interfaces = {
      lo: [at('127.0.0.1', 'IPv4', true), at('::1', 'IPv6', true)],
      eth0: [at('192.168.1.20', 'IPv4'), at('fe80::1', 'IPv6'), at('2001:db8::5', 'IPv6')],
      wlan0: [at('10.0.0.7', 'IPv4')],
    }
    assert.deepEqual(networkUrls(8080, interfaces), ['http://192.168.1.20:8080/v1', 'http://[2001:db8::5]:8080/v1', 'http://10.0.0.7:8080/v1'])
  })

  it('lets allowed origins call it after configure', async () => {
    settings = { ...settings, apiServerEnabled: true }
    const before = await control.apply()
    const origin = { origin: 'http://localhost:5173' }
    assert.equal((await request(portOf(before.url), 'GET', '/v1/models', { headers: origin })).status, 403)
    const after = await control.configure({ allowedOrigins: ['http://localhost:5173'] })
    const res = await request(portOf(after.url), 'GET', '/v1/models', { headers: origin })
    assert.equal(res.status, 200)
    assert.equal(res.headers['access-control-allow-origin'], 'http://localhost:5173')
  })

  it('names its options file, as an app error, when it cannot read or write it', async () => {
    const file = path.join(dataDir, 'api-server.json')
    await mkdir(`${file}.tmp`)
    await assert.rejects(control.configure({ allowedOrigins: [] }), (err: unknown) => {
      assert.ok(err instanceof AppError)
      assert.equal(err.code, 'INTERNAL')
      assert.equal(err.message, `Hearth could not write ${file} (EISDIR).`)
      return true
    })
    await mkdir(file)
    const reopened = new ApiServerControl({ dataDir, backend: new ScriptedBackend(), settings: () => settings })
    await assert.rejects(reopened.status(), { name: 'AppError', message: `Hearth could not read ${file} (EISDIR).` })
  })

  it('is on for the run with an override, whatever Settings say', async () => {
    const forced = new ApiServerControl({ dataDir, backend: new ScriptedBackend(), settings: () => settings, override: { enabled: true, port: 0 } })
    try {
      const status = await forced.apply()
      assert.equal(status.enabled, true)
      assert.ok(status.url)
    } finally {
      await forced.close()
    }
  })
})
