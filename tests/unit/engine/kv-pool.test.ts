// KvPool and SnapshotStore on hand-made caches: prefix reuse, slots, the byte budget, snapshots.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { KvCache } from '../../../src-main/engine/kv-cache.ts'
import { KvPool, MIN_SEED_TOKENS, type PoolOptions } from '../../../src-main/engine/kv-pool.ts'
import { SnapshotStore, type ModelIdentity } from '../../../src-main/engine/snapshots.ts'

// One layer, one KV head, head size 2: a position's key is [token, token], its value [-token, -token].
const BYTES_PER_TOKEN = 2 * 2 * 4

function emptyCache(): KvCache {
  return new KvCache([0, 1].map(() => new ort.Tensor('float32', new Float32Array(0), [1, 1, 0, 2])))
}

/** What a forward pass over `tokens` would append. */
function grow(cache: KvCache, tokens: number[]): void {
  const all = [...cache.tokens, ...tokens]
  const key = new Float32Array(all.flatMap((t) => [t, t]))
  const value = key.map((v) => -v)
  cache.advance([new ort.Tensor('float32', key, [1, 1, all.length, 2]), new ort.Tensor('float32', value, [1, 1, all.length, 2])], tokens)
}

/** The tensors' used positions still say which tokens they hold. */
function assertConsistent(cache: KvCache): void {
  const key = cache.tensors[0]!.data as Float32Array
  assert.deepEqual([...key.subarray(0, 2 * cache.nPast)].filter((_, i) => i % 2 === 0), cache.tokens)
  assert.ok(cache.tensors[1]!.dims[2]! >= cache.nPast)
}

const IDENTITY: ModelIdentity = {
  file: '/models/m/onnx/model.onnx', bytes: 1000, mtimeMs: 1, variant: 'fp32', kvDtype: 'float32', int8Activations: false,
  layers: 1, kvHeads: 1, headDim: 2, onnxruntime: '1.30.0',
}

let dir: string
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hearth-pool-'))
})
after(() => rm(dir, { recursive: true, force: true }))

function pool(opts: Partial<PoolOptions> = {}): KvPool {
  return new KvPool({ budgetBytes: 1 << 20, bytesPerToken: BYTES_PER_TOKEN, newCache: emptyCache, snapshots: null, ...opts })
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i)

describe('KvPool#acquire', () => {
  it('keeps the common prefix and drops the rest', async () => {
    const p = pool()
    const first = await p.acquire('c', range(1, 10), 5)
    grow(first.entry.cache, range(1, 10))
    p.release(first.entry)
    const edited = [...range(1, 6), 99, 98]
    const second = await p.acquire('c', edited, 5)
    assert.equal(second.nPast, 6)
    assert.deepEqual(second.entry.cache.tokens, range(1, 6))
    assertConsistent(second.entry.cache)
  })

  it('keeps all but the last token when the whole prompt is cached', async () => {
    const p = pool()
    const a = await p.acquire('c', range(1, 8), 5)
    grow(a.entry.cache, range(1, 8))
    p.release(a.entry)
    const b = await p.acquire('c', range(1, 8), 5)
    assert.equal(b.nPast, 7)
    assertConsistent(b.entry.cache)
  })

  it('refuses to hand out a cache whose generation is still running', async () => {
    const p = pool()
    await p.acquire('c', [1, 2], 5)
    await assert.rejects(p.acquire('c', [1, 2], 5), /in use/)
  })

  it('gives requests without a conversation the slot with the longest common prefix', async () => {
    const p = pool({ anonymousSlots: 2 })
    const a = await p.acquire(undefined, range(1, 10), 1)
    grow(a.entry.cache, range(1, 10))
    p.release(a.entry)
    const b = await p.acquire(undefined, range(50, 10), 1)
    assert.notEqual(b.entry.key, a.entry.key)
    grow(b.entry.cache, range(50, 10))
    p.release(b.entry)
    const c = await p.acquire(undefined, [...range(1, 4), 7], 1)
    assert.equal(c.entry.key, a.entry.key)
    assert.equal(c.nPast, 4)
    p.release(c.entry)
    // Nothing in common and no free slot: the least recently used slot (b) is taken over.
    const d = await p.acquire(undefined, [200, 201], 1)
    assert.equal(d.entry.key, b.entry.key)
    assert.equal(d.nPast, 0)
  })
})

describe('KvPool seeding a new conversation', () => {
  const shared = range(1, MIN_SEED_TOKENS + 20)

  it("copies the longest prefix another conversation's cache shares with the prompt, leaving that cache as it was", async () => {
    const p = pool()
    const a = await p.acquire('a', [...shared, 500, 501], 5)
    grow(a.entry.cache, [...shared, 500, 501])
    p.release(a.entry)
    const b = await p.acquire('b', [...shared, 900], 5)
    assert.equal(b.seededFrom, 'a')
    assert.equal(b.nPast, shared.length)
    assertConsistent(b.entry.cache)
    // Growing the copy leaves the source alone.
    grow(b.entry.cache, [900])
    p.release(b.entry)
    const again = await p.acquire('a', [...shared, 500, 501, 502], 5)
    assert.equal(again.seededFrom, null)
    assert.deepEqual(again.entry.cache.tokens, [...shared, 500, 501])
    assertConsistent(again.entry.cache)
  })

  it('starts empty when less than MIN_SEED_TOKENS is shared, and never seeds from a running generation', async () => {
    const p = pool()
    const a = await p.acquire('a', range(1, MIN_SEED_TOKENS + 5), 5)
    grow(a.entry.cache, range(1, MIN_SEED_TOKENS + 5))
    const busy = await p.acquire('b', range(1, MIN_SEED_TOKENS + 5), 5)
    assert.equal(busy.seededFrom, null)
    assert.equal(busy.nPast, 0)
    p.release(a.entry)
    const short = await p.acquire('c', [...range(1, MIN_SEED_TOKENS - 1), 999], 5)
    assert.equal(short.seededFrom, null)
    assert.equal(short.nPast, 0)
  })

  it("seeds from a snapshot on disk after a restart, leaving the snapshot for its own conversation", async () => {
    const store = new SnapshotStore(path.join(dir, 'seed'), IDENTITY, 1 << 20)
    const first = pool({ snapshots: store })
    const a = await first.acquire('a', [...shared, 7], 5)
    grow(a.entry.cache, [...shared, 7])
    first.release(a.entry)
    await first.persistAll()

    const restarted = pool({ snapshots: store })
    const b = await restarted.acquire('b', [...shared, 8, 9], 5)
    assert.equal(b.seededFrom, 'a')
    assert.equal(b.restoredFromDisk, false)
    assert.equal(b.nPast, shared.length)
    assertConsistent(b.entry.cache)
    restarted.release(b.entry)
    const own = await restarted.acquire('a', [...shared, 7, 10], 5)
    assert.equal(own.restoredFromDisk, true)
    assert.equal(own.nPast, shared.length + 1)
  })
})

describe('KvPool budget', () => {
  it('holds the byte budget within 5% by evicting least recently used caches', async () => {
    const budget = 100 * BYTES_PER_TOKEN
    const p = pool({ budgetBytes: budget })
    for (let i = 0; i < 12; i++) {
      const prompt = range(i * 100, 20 + ((i * 7) % 13))
      const { entry } = await p.acquire(`c${i}`, prompt, 10)
      grow(entry.cache, prompt)
      grow(entry.cache, range(5000, 10)) // the reply
      p.release(entry)
      assert.ok(p.bytes <= budget * 1.05, `${p.bytes} bytes held, budget ${budget}`)
    }
    // The most recent conversations stayed; the oldest went.
    const kept = p.info().map((c) => c.conversationId)
    assert.ok(kept.includes('c11') && kept.includes('c10') && !kept.includes('c0'))
  })

  it('never evicts the running generation', async () => {
    const p = pool({ budgetBytes: 30 * BYTES_PER_TOKEN })
    const running = await p.acquire('running', range(1, 20), 5)
    grow(running.entry.cache, range(1, 20))
    const other = await p.acquire('other', range(100, 20), 5)
    grow(other.entry.cache, range(100, 20))
    assert.equal(running.entry.cache.nPast, 20)
    assert.ok(p.info().some((c) => c.conversationId === 'running'))
  })
})

describe('KvPool snapshots', () => {
  it('writes an evicted cache to disk and restores it on the next request', async () => {
    const store = new SnapshotStore(path.join(dir, 'evict'), IDENTITY, 1 << 20)
    const p = pool({ budgetBytes: 40 * BYTES_PER_TOKEN, snapshots: store })
    const a = await p.acquire('a', range(1, 30), 5)
    grow(a.entry.cache, range(1, 30))
    p.release(a.entry)
    const b = await p.acquire('b', range(100, 30), 5)
    grow(b.entry.cache, range(100, 30))
    p.release(b.entry)
    assert.deepEqual(p.info().map((c) => c.conversationId), ['b'])
    const again = await p.acquire('a', [...range(1, 30), 77], 5)
    assert.equal(again.restoredFromDisk, true)
    assert.equal(again.nPast, 30)
    assertConsistent(again.entry.cache)
  })

  it('persists every cache at quit and forgets a dropped one on disk too', async () => {
    const store = new SnapshotStore(path.join(dir, 'quit'), IDENTITY, 1 << 20)
    const p = pool({ snapshots: store })
    for (const id of ['x', 'y']) {
      const { entry } = await p.acquire(id, range(1, 5), 1)
      grow(entry.cache, range(1, 5))
      p.release(entry)
    }
    await p.persistAll()
    assert.equal(p.bytes, 0)
    assert.equal((await readdir(path.join(dir, 'quit'))).length, 2)
    await p.drop('x')
    assert.equal(await store.load('x'), null)
    assert.deepEqual((await store.load('y'))?.tokens, range(1, 5))
  })
})

describe('KvPool#warm', () => {
  /** A pool over a store holding conversation `a`'s 30 positions, saved and freed as at quit. */
  async function restarted(sub: string, options: Partial<PoolOptions> = {}): Promise<{ p: KvPool; store: SnapshotStore; saves: string[] }> {
    const store = new SnapshotStore(path.join(dir, sub), IDENTITY, 1 << 20)
    const before = pool({ snapshots: store })
    const { entry } = await before.acquire('a', range(1, 30), 5)
    grow(entry.cache, range(1, 30))
    before.release(entry)
    await before.persistAll()
    const saves: string[] = []
    const save = store.save.bind(store)
    store.save = async (key, cache) => {
      saves.push(key)
      await save(key, cache)
    }
    return { p: pool({ snapshots: store, ...options }), store, saves }
  }

  it('reads a conversation cache from its snapshot before it is asked for, and the request takes it from memory', async () => {
    const { p } = await restarted('warm')
    assert.deepEqual(await p.warm('a'), { from: 'snapshot', tokens: 30 })
    assert.deepEqual(p.info().map((c) => [c.conversationId, c.tokens]), [['a', 30]])
    assert.deepEqual(await p.warm('a'), { from: 'memory', tokens: 30 })
    const got = await p.acquire('a', [...range(1, 30), 77], 5)
    assert.equal(got.restoredFromDisk, false)
    assert.equal(got.nPast, 30)
    assertConsistent(got.entry.cache)
  })

  it('writes nothing when a cache it read is evicted untouched, and writes it once used', async () => {
    const { p, saves } = await restarted('warm-clean')
    await p.warm('a')
    await p.persistAll()
    assert.deepEqual(saves, [])
    await p.warm('a')
    const { entry } = await p.acquire('a', [...range(1, 30), 31], 2)
    grow(entry.cache, [31])
    p.release(entry)
    await p.persistAll()
    assert.deepEqual(saves, ['a'])
  })

  it('reads nothing without a snapshot, over the budget, or for another model, and deletes nothing', async () => {
    const { p } = await restarted('warm-none', { budgetBytes: 20 * BYTES_PER_TOKEN })
    assert.deepEqual(await p.warm('missing'), { from: 'none', reason: 'no-snapshot' })
    assert.deepEqual(await p.warm('a'), { from: 'none', reason: 'budget' })
    assert.equal(p.bytes, 0)
    const other = pool({ snapshots: new SnapshotStore(path.join(dir, 'warm-none'), { ...IDENTITY, mtimeMs: 2 }, 1 << 20) })
    assert.deepEqual(await other.warm('a'), { from: 'none', reason: 'no-snapshot' })
    assert.equal((await readdir(path.join(dir, 'warm-none'))).length, 1)
  })
})

describe('SnapshotStore', () => {
  async function saved(sub: string, identity = IDENTITY): Promise<SnapshotStore> {
    const store = new SnapshotStore(path.join(dir, sub), identity, 1 << 20)
    const cache = emptyCache()
    grow(cache, range(1, 6))
    await store.save('k', cache)
    return store
  }

  it('round-trips tokens and tensors', async () => {
    const cache = await (await saved('round')).load('k')
    assert.ok(cache)
    assert.deepEqual(cache.tokens, range(1, 6))
    assertConsistent(cache)
  })

  it('ignores and deletes a snapshot made for another model', async () => {
    await saved('other-model')
    const other = new SnapshotStore(path.join(dir, 'other-model'), { ...IDENTITY, mtimeMs: 2 }, 1 << 20)
    assert.equal(await other.load('k'), null)
    assert.deepEqual(await readdir(path.join(dir, 'other-model')), [])
  })

  it('ignores a corrupt or truncated snapshot', async () => {
    const store = await saved('corrupt')
    const [file] = await readdir(path.join(dir, 'corrupt'))
    await writeFile(path.join(dir, 'corrupt', file!), 'HEARTHKV garbage')
    assert.equal(await store.load('k'), null)
    const store2 = await saved('truncated')
    const [file2] = await readdir(path.join(dir, 'truncated'))
    const full = path.join(dir, 'truncated', file2!)
    await writeFile(full, (await readFile(full)).subarray(0, -4))
    assert.equal(await store2.load('k'), null)
  })

  it('reads each head straight into a cache laid out as asked, the whole of it or only a prefix', async () => {
    // Two layers of three KV heads: position p of head h of tensor t holds (t, h, p) in both dims.
    const identity = { ...IDENTITY, layers: 2, kvHeads: 3 }
    const layout = { tensors: 4, dtype: 'float32' as const, kvHeads: 3, headDim: 2 }
    const mark = (t: number, h: number, p: number): number => t * 10_000 + h * 100 + p
    const source = KvCache.allocate(layout, range(50, 7), 7)
    source.tensors.forEach((tensor, t) => {
      const data = tensor.data as Float32Array
      for (let h = 0; h < 3; h++) for (let p = 0; p < 7; p++) data.fill(mark(t, h, p), (h * 7 + p) * 2, (h * 7 + p + 1) * 2)
    })
    const store = new SnapshotStore(path.join(dir, 'heads'), identity, 1 << 20)
    await store.save('k', source)
    const holds = (cache: KvCache, n: number): void => {
      assert.equal(cache.nPast, n)
      cache.tensors.forEach((tensor, t) => {
        const data = tensor.data as Float32Array
        for (let h = 0; h < 3; h++) {
          for (let p = 0; p < n; p++) assert.equal(data[(h * cache.capacity + p) * 2 + 1], mark(t, h, p), `t${t} h${h} p${p}`)
        }
      })
    }
    const asked: number[] = []
    const whole = await store.load('k', (n) => {
      asked.push(n)
      return { capacity: 16, room: 40 }
    })
    assert.ok(whole)
    assert.deepEqual(asked, [7])
    assert.deepEqual(whole.tokens, range(50, 7))
    assert.equal(whole.capacity, 16)
    assert.equal((whole.tensors[0]!.data as Float32Array).buffer.byteLength, 4 * 3 * 40 * 2 * 4)
    holds(whole, 7)

    const prefix = await store.load('k', (n) => ({ capacity: n, room: n }), 4)
    assert.ok(prefix)
    assert.deepEqual(prefix.tokens, range(50, 4))
    assert.equal(prefix.capacity, 4)
    holds(prefix, 4)
  })

  it('deletes the least recently used snapshots beyond the disk budget', async () => {
    const sub = path.join(dir, 'budget')
    const cache = emptyCache()
    grow(cache, range(1, 100))
    const unlimited = new SnapshotStore(sub, IDENTITY, 1 << 30)
    const files: string[] = []
    for (const [i, key] of ['first', 'second'].entries()) {
      await unlimited.save(key, cache)
      const file = (await readdir(sub)).map((f) => path.join(sub, f)).find((f) => !files.includes(f))!
      files.push(file)
      // first was last used two minutes ago, second one minute ago.
      const when = new Date(Date.now() - (2 - i) * 60_000)
      await utimes(file, when, when)
    }
    const bytes = (await stat(files[0]!)).size
    const store = new SnapshotStore(sub, IDENTITY, Math.floor(bytes * 2.5))
    await store.save('third', cache)
    assert.equal((await readdir(sub)).length, 2)
    assert.equal(await store.load('first'), null)
    assert.ok(await store.load('second'))
    assert.ok(await store.load('third'))
  })
})
