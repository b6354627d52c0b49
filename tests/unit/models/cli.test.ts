import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { closedPort, startFakeHub, type FakeHub } from './fake-hub.ts'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
let root: string
let hub: FakeHub

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-cli-'))
  await buildModel(path.join(root, 'source'), { q4: true })
  hub = await startFakeHub(path.join(root, 'source'))
})

after(async () => {
  await hub.close()
  await rm(root, { recursive: true, force: true })
})

/** Runs `npm run models -- …` as a user would, without npm in between. */
function models(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'tools/models.ts', ...args],
      { cwd: repoRoot, env: { ...process.env, HEARTH_MODELS_DIR: path.join(root, 'models'), HF_ENDPOINT: hub.endpoint } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

describe('npm run models', () => {
  it('downloads a repository, lists it, and removes it with the space freed', async () => {
    const download = await models('download', hub.repo, '--variant', 'q4')
    assert.equal(download.code, 0, download.stderr)
    assert.match(download.stdout, /Installed test-org--tiny-model \(q4\)/)

    const list = await models('list')
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, /^test-org--tiny-model {2}llama, .* 2048 context {2}\[q4 \d+ KB\]$/m)

    const remove = await models('remove', 'test-org--tiny-model')
    assert.equal(remove.code, 0, remove.stderr)
    assert.match(remove.stdout, /Removed test-org--tiny-model; freed \d+ KB/)
    assert.match((await models('list')).stdout, /No models in/)
  })

  it('exits 1 with the reason when the hub cannot be reached, and 2 on a usage error', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`
    const down = await models('download', hub.repo, '--endpoint', endpoint)
    assert.equal(down.code, 1)
    assert.match(down.stderr, /error: Cannot reach the model hub at http:\/\/127\.0\.0\.1:\d+ \(connection refused\)/)

    const usage = await models('download', hub.repo, '--variant', 'q9')
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /--variant must be one of/)
    assert.equal((await models('remove')).code, 2)
  })
})
