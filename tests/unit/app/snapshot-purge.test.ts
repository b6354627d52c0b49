// A deleted conversation's KV snapshot (its token ids, which decode back to its text) leaves the
// disk with it: when its undo window has passed, at quit, or at the next start, with no engine.

import assert from 'node:assert/strict'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as ort from 'onnxruntime-node'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { hostEngine } from '../../../src-main/app/engine-port.ts'
import { EngineHost } from '../../../src-main/engine-host/engine-host.ts'
import { KvCache } from '../../../src-main/engine/kv-cache.ts'
import { snapshotFile } from '../../../src-main/model-format/snapshot-name.ts'
import { SnapshotStore } from '../../../src-main/engine/snapshots.ts'

const UNDO_MS = 1000

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-snapshot-purge-'))
})
after(() => rm(root, { recursive: true, force: true }))

/** An app whose engine host must never start a process, on a clock the test moves. */
async function openApp(dataDir: string, clock: { now: number }): Promise<App> {
  const host = new EngineHost({
    spawn: () => {
      throw new Error('no engine process may start in this test')
    },
  })
  return createApp({
    shell: 'browser',
    version: '0.0.0',
    dataDir,
    modelsDir: path.join(root, 'models'),
    engine: hostEngine(host),
    store: { undoWindowMs: UNDO_MS, now: () => clock.now },
  })
}

/** Writes a snapshot as the engine does: the conversation's tokens in the header, then its KV. */
async function writeSnapshot(dataDir: string, conversationId: string): Promise<string> {
  const identity = { file: '/m.onnx', bytes: 1, mtimeMs: 1, variant: 'fp32', kvDtype: 'float32' as const, int8Activations: false, layers: 1, kvHeads: 1, headDim: 1, onnxruntime: '1' }
  const empty = [0, 1].map(() => new ort.Tensor('float32', new Float32Array(0), [1, 1, 0, 1]))
  const cache = new KvCache(empty)
  cache.advance([0, 1].map(() => new ort.Tensor('float32', new Float32Array([1, 2, 3]), [1, 1, 3, 1])), [11, 12, 13])
  const dir = path.join(dataDir, 'kv-cache')
  await new SnapshotStore(dir, identity, 1 << 20).save(conversationId, cache)
  return snapshotFile(dir, conversationId)
}

const exists = (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  )

describe('KV snapshots of deleted conversations', () => {
  it('go once the undo window has passed, stay while it is open or after an undo, and all go at quit', async () => {
    const dataDir = path.join(root, 'purge')
    const clock = { now: 1_000_000 }
    const app = await openApp(dataDir, clock)
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => app.api.createConversation()))
    const [aFile, bFile, cFile] = await Promise.all([a!, b!, c!].map((conversation) => writeSnapshot(dataDir, conversation.id)))
    try {
      await app.api.deleteConversation(a!.id)
      await app.api.deleteConversation(c!.id)
      await app.api.undoDeleteConversation(c!.id)
      assert.equal(await exists(aFile!), true, 'removed while the delete could still be undone')

      clock.now += UNDO_MS + 1
      // This delete purges A from the store; B can still be restored.
      await app.api.deleteConversation(b!.id)
      assert.equal(await exists(aFile!), false)
      assert.equal(await exists(bFile!), true)
    } finally {
      await app.close()
    }
    // The store purges B when it next opens, so quitting removed its snapshot.
    assert.equal(await exists(bFile!), false)
    assert.equal(await exists(cFile!), true, 'the restored conversation lost its snapshot')
  })

  it('that an earlier session left behind go when the app starts', async () => {
    const dataDir = path.join(root, 'sweep')
    const clock = { now: 1_000_000 }
    let app = await openApp(dataDir, clock)
    const { id } = await app.api.createConversation()
    await app.close()
    const live = await writeSnapshot(dataDir, id)
    const orphan = await writeSnapshot(dataDir, 'deleted-before-snapshots-were-purged')
    const partial = `${snapshotFile(path.join(dataDir, 'kv-cache'), id)}.tmp`
    await writeFile(partial, 'half a snapshot')
    const unrelated = path.join(dataDir, 'kv-cache', 'notes.txt')
    await writeFile(unrelated, 'not a snapshot')

    app = await openApp(dataDir, clock)
    await app.close()
    assert.equal(await exists(live), true)
    assert.equal(await exists(orphan), false)
    assert.equal(await exists(partial), false)
    assert.equal(await exists(unrelated), true)
  })
})
