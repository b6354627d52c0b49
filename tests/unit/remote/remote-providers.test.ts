// RemoteProviders: adding a server fetches its models; keys are sealed in a 0600 file and never
// listed; chats with its models stream and stop; removed servers are reported as such.

import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { AppError } from '../../../src-shared/errors.ts'
import { DEFAULT_PARAMS, type RemoteModelId, type RemoteProvider } from '../../../src-shared/types.ts'
import { startApiServer, type RunningApiServer } from '../../../src-main/api-server/server.ts'
import { isRemoteModelId, parseRemoteModelId, remoteModelId, RemoteProviders } from '../../../src-main/remote/remote-providers.ts'
import { plainBox, safeStorageBox, type SafeStorageLike } from '../../../src-main/remote/secret-box.ts'
import { ScriptedBackend } from '../api-server/helpers.ts'

const KEY = 'sk-remote-secret'

/** Reversible "encryption" standing in for the OS keychain. */
const fakeSafeStorage: SafeStorageLike = {
  isEncryptionAvailable: () => true,
  encryptString: (s) => Buffer.from([...Buffer.from(s)].map((b) => b ^ 0x5a)),
  decryptString: (b) => Buffer.from([...b].map((x) => x ^ 0x5a)).toString(),
}

let server: RunningApiServer
let backend: ScriptedBackend
let dataDir: string

before(async () => {
  backend = new ScriptedBackend()
  server = await startApiServer({ backend, port: 0, apiKey: KEY })
})
after(() => server.close())
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'hearth-remote-'))
})
afterEach(() => rm(dataDir, { recursive: true, force: true }))

function firstModelId(provider: RemoteProvider): RemoteModelId {
  const id = provider.models[0]?.id
  assert.ok(id !== undefined, `${provider.name} lists no models`)
  return id
}

describe('remoteModelId', () => {
  it('parses back to the provider id and model name it was made from', () => {
    for (const model of ['tiny', 'org/model:q4', 'a%20b', 'naïve 模型']) {
      assert.deepEqual(parseRemoteModelId(remoteModelId('0a1b2c3d', model)), { providerId: '0a1b2c3d', model })
    }
  })

  it('parses nothing from an id it could not have made', () => {
    for (const id of ['remote:', 'remote:0a1b2c3d', 'remote:0a1b2c3d:', 'remote::tiny', 'remote:0a1b2c3d:%E0%A4%A'] as const) {
      assert.equal(parseRemoteModelId(id), null, id)
    }
  })
})

describe('RemoteProviders', () => {
  it('adds a server with its models and keeps the key only in a 0600 file', async () => {
    const remotes = new RemoteProviders({ dataDir, secrets: plainBox })
    const added = await remotes.add({ baseUrl: server.url, apiKey: KEY, name: 'Desk' })
    assert.equal(added.name, 'Desk')
    assert.equal(added.hasApiKey, true)
    assert.equal(added.keyStorage, 'plain-file')
    assert.deepEqual(added.models.map((m) => m.name), ['tiny'])
    assert.ok(isRemoteModelId(added.models[0]?.id ?? null))
    assert.ok(!JSON.stringify(await remotes.list()).includes(KEY))
    const file = path.join(dataDir, 'remote-providers.json')
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    assert.ok((await readFile(file, 'utf8')).includes(KEY))
    // A fresh instance reads the same list back.
    assert.deepEqual(await new RemoteProviders({ dataDir, secrets: plainBox }).list(), [added])
  })

  it('seals the key with safeStorage where the OS encrypts, and refuses Linux basic_text as encryption', async () => {
    const box = safeStorageBox(fakeSafeStorage)
    assert.equal(box.storage, 'os-encrypted')
    assert.equal(safeStorageBox({ ...fakeSafeStorage, getSelectedStorageBackend: () => 'basic_text' }).storage, 'plain-file')
    assert.equal(safeStorageBox({ ...fakeSafeStorage, isEncryptionAvailable: () => false }).storage, 'plain-file')
    const remotes = new RemoteProviders({ dataDir, secrets: box })
    const added = await remotes.add({ baseUrl: server.url, apiKey: KEY })
    assert.equal(added.keyStorage, 'os-encrypted')
    assert.ok(!(await readFile(path.join(dataDir, 'remote-providers.json'), 'utf8')).includes(KEY))
    const reply = await remotes.generate(firstModelId(added), 'c1', [{ role: 'user', content: 'Hi' }], DEFAULT_PARAMS, () => undefined)
    assert.equal(reply.text, 'Hello!')
    const plain = new RemoteProviders({ dataDir, secrets: plainBox })
    await assert.rejects(
      plain.generate(firstModelId(added), 'c1', [{ role: 'user', content: 'Hi' }], DEFAULT_PARAMS, () => undefined),
      /stored encrypted by the desktop app and cannot be read here/,
    )
  })

  it('adds nothing when the server cannot be reached or refuses the key', async () => {
    const remotes = new RemoteProviders({ dataDir, secrets: plainBox })
    await assert.rejects(remotes.add({ baseUrl: server.url, apiKey: 'wrong' }), (err: unknown) => err instanceof AppError && err.code === 'REMOTE_FAILED')
    assert.deepEqual(await remotes.list(), [])
  })

  it('stops a chat by its conversation id', async () => {
    const remotes = new RemoteProviders({ dataDir, secrets: plainBox })
    const added = await remotes.add({ baseUrl: server.url, apiKey: KEY })
    backend.tokens = Array.from({ length: 1000 }, (_, i) => `${i} `)
    try {
      const reply = await remotes.generate(firstModelId(added), 'c2', [{ role: 'user', content: 'Hi' }], DEFAULT_PARAMS, () => remotes.cancel('c2'))
      assert.equal(reply.stats.stopReason, 'cancelled')
      assert.ok(reply.stats.generatedTokens < 1000)
    } finally {
      backend.tokens = ['Hel', 'lo', '!']
    }
  })

  it('tells a chat whose server was removed to choose another model', async () => {
    const remotes = new RemoteProviders({ dataDir, secrets: plainBox })
    const added = await remotes.add({ baseUrl: server.url, apiKey: KEY })
    await remotes.remove(added.id)
    assert.deepEqual(await remotes.list(), [])
    await assert.rejects(remotes.resolve(firstModelId(added)), /was removed. Choose another model/)
  })
})
