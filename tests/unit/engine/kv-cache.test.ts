// KvCache on hand-made tensors: in-place writes with spare capacity, reserve, truncate, compact, views.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import * as ort from 'onnxruntime-node'
import { KvCache, roomFor } from '../../../src-main/engine/kv-cache.ts'

// One layer (a key and a value tensor), two KV heads, head size 3.
const HEADS = 2
const DIM = 3
const TENSORS = 2

type Dtype = 'float32' | 'float16'
type KvArray = Float32Array | Uint16Array

/**
 * The element at (tensor, head, position, d): distinct for every coordinate and exact in both
 * dtypes (float16 bit patterns are just integers here; KvCache never interprets them).
 */
const value = (tensor: number, head: number, pos: number, d: number): number => 1 + tensor * 1000 + head * 100 + pos * 4 + d

function array(dtype: Dtype, n: number): KvArray {
  return dtype === 'float16' ? new Uint16Array(n) : new Float32Array(n)
}

function emptyCache(dtype: Dtype): KvCache {
  return new KvCache(Array.from({ length: TENSORS }, () => new ort.Tensor(dtype, array(dtype, 0), [1, HEADS, 0, DIM])))
}

/** What a pass over positions from..from+n would output: [1, heads, n, dim] per tensor. */
function fresh(dtype: Dtype, from: number, n: number, shift = 0): ort.Tensor[] {
  return Array.from({ length: TENSORS }, (_, t) => {
    const data = array(dtype, HEADS * n * DIM)
    for (let h = 0; h < HEADS; h++) {
      for (let p = 0; p < n; p++) for (let d = 0; d < DIM; d++) data[(h * n + p) * DIM + d] = value(t, h, from + p, d) + shift
    }
    return new ort.Tensor(dtype, data, [1, HEADS, n, DIM])
  })
}

/** Reads (tensor, head, pos, d) where the layout says it lives: (h * capacity + pos) * dim + d. */
function at(cache: KvCache, t: number, h: number, pos: number, d: number): number {
  return (cache.tensors[t]!.data as KvArray)[(h * cache.capacity + pos) * DIM + d]!
}

/** Every used position of every tensor holds value(...) + shift(pos). */
function assertHolds(cache: KvCache, shift: (pos: number) => number = () => 0): void {
  for (let t = 0; t < TENSORS; t++) {
    assert.deepEqual(cache.tensors[t]!.dims, [1, HEADS, cache.capacity, DIM])
    for (let h = 0; h < HEADS; h++) {
      for (let p = 0; p < cache.nPast; p++) {
        for (let d = 0; d < DIM; d++) assert.equal(at(cache, t, h, p, d), value(t, h, p, d) + shift(p), `t${t} h${h} p${p} d${d}`)
      }
    }
  }
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i)

for (const dtype of ['float32', 'float16'] as const) {
  describe(`KvCache (${dtype})`, () => {
    it('grows through the callback on a write and places head h at (h * capacity + position) * dim', () => {
      const cache = emptyCache(dtype)
      const asked: number[] = []
      const grow = (needed: number): number => {
        asked.push(needed)
        return Math.ceil(needed / 8) * 8
      }
      cache.write(fresh(dtype, 0, 3), range(10, 3), grow)
      assert.deepEqual(asked, [3])
      assert.equal(cache.capacity, 8)
      assert.equal(cache.nPast, 3)
      assert.deepEqual(cache.tokens, [10, 11, 12])
      assertHolds(cache)
      // Head 1 starts a whole capacity after head 0, not right after head 0's used positions.
      assert.equal((cache.tensors[0]!.data as KvArray)[8 * DIM], value(0, 1, 0, 0))

      // Fits: no growth, written after the used positions.
      cache.write(fresh(dtype, 3, 5), range(13, 5), grow)
      assert.deepEqual(asked, [3])
      assert.equal(cache.capacity, 8)
      assertHolds(cache)

      // Full: grows again, the used positions move to the new layout.
      cache.write(fresh(dtype, 8, 1), [18], grow)
      assert.deepEqual(asked, [3, 9])
      assert.equal(cache.capacity, 16)
      assert.equal(cache.nPast, 9)
      assert.equal(cache.bytes, TENSORS * HEADS * 16 * DIM * (dtype === 'float16' ? 2 : 4))
      assertHolds(cache)
      for (const t of cache.tensors) assert.equal(t.type, dtype)
    })

    it('reserves room without touching the used positions, and never shrinks', () => {
      const cache = emptyCache(dtype)
      cache.write(fresh(dtype, 0, 4), range(0, 4), (n) => n)
      assert.equal(cache.capacity, 4)
      cache.reserve(10)
      assert.equal(cache.capacity, 10)
      assert.equal(cache.nPast, 4)
      assertHolds(cache)
      cache.reserve(6)
      assert.equal(cache.capacity, 10)
      // The reserved room is used without growing.
      cache.write(fresh(dtype, 4, 6), range(4, 6), () => assert.fail('grew although reserved'))
      assertHolds(cache)
    })

    it('truncates by dropping the length only, and a later write overwrites from there', () => {
      const cache = emptyCache(dtype)
      cache.write(fresh(dtype, 0, 6), range(0, 6), () => 8)
      const before = cache.tensors.map((t) => (t.data as KvArray).slice())
      cache.truncate(2)
      assert.equal(cache.nPast, 2)
      assert.deepEqual(cache.tokens, [0, 1])
      assert.equal(cache.capacity, 8)
      // Nothing moved: the dropped positions are still there, as spare capacity.
      cache.tensors.forEach((t, i) => assert.deepEqual(t.data, before[i]))
      cache.truncate(5) // longer than the cache: a no-op
      assert.equal(cache.nPast, 2)

      cache.write(fresh(dtype, 2, 3, 500), [90, 91, 92], () => assert.fail('grew within capacity'))
      assert.deepEqual(cache.tokens, [0, 1, 90, 91, 92])
      assertHolds(cache, (p) => (p >= 2 ? 500 : 0))
      // Position 5 was not rewritten: still the stale value from before the truncate.
      assert.equal(at(cache, 1, 1, 5, 2), value(1, 1, 5, 2))
    })

    it('compacts to capacity === length, keeping the used positions', () => {
      const cache = emptyCache(dtype)
      cache.write(fresh(dtype, 0, 5), range(0, 5), () => 16)
      cache.truncate(3)
      cache.compact()
      assert.equal(cache.capacity, 3)
      assert.equal(cache.nPast, 3)
      assert.equal(cache.tensors[0]!.data.length, HEADS * 3 * DIM)
      assertHolds(cache)
      const same = cache.tensors[0]
      cache.compact() // already compact: the tensors are left as they are
      assert.equal(cache.tensors[0], same)
    })

    it('grows and shrinks within its block by moving each head in place, and takes a new block beyond its room', () => {
      const cache = emptyCache(dtype)
      const buffer = (): ArrayBufferLike => (cache.tensors[0]!.data as KvArray).buffer
      cache.write(fresh(dtype, 0, 3), range(0, 3), () => 8)
      const block = buffer()
      // The block has room for roomFor(8) positions: later growth stays in it.
      assert.equal(block.byteLength, TENSORS * HEADS * DIM * roomFor(8) * (dtype === 'float16' ? 2 : 4))
      for (const [from, n, capacity] of [[3, 6, 16], [9, 20, 40], [29, 12, 200]] as const) {
        cache.write(fresh(dtype, from, n), range(from, n), () => capacity)
        assert.equal(cache.capacity, capacity)
        assert.ok(buffer() === block, `grew to ${capacity} in place`)
        assertHolds(cache)
        // Every tensor is the next view along the block: head 0 of tensor 1 follows tensor 0's last head.
        assert.equal((cache.tensors[1]!.data as KvArray).byteOffset, (cache.tensors[0]!.data as KvArray).byteLength)
      }
      cache.reserve(roomFor(8) + 1)
      assert.ok(buffer() !== block, 'beyond the room: a new block')
      assertHolds(cache)

      // Shrinking to at least half the block stays in it; to less, the block is given back.
      const big = buffer()
      cache.truncate(12)
      cache.compact(Math.ceil(roomFor(roomFor(8) + 1) / 2))
      assert.ok(buffer() === big, 'shrunk in place')
      assert.equal(cache.nPast, 12)
      assertHolds(cache)
      cache.compact(20)
      assert.ok(buffer() !== big, 'shrunk into a new block')
      assert.equal(cache.capacity, 20)
      assertHolds(cache)
    })

    it('once it outgrows its first block, reserves one for the whole context where that is large, and grows within it', () => {
      const elementBytes = dtype === 'float16' ? 2 : 4
      const positionBytes = TENSORS * HEADS * DIM * elementBytes
      // Large enough to be reserved (32 MiB and more).
      const context = Math.ceil((40 * 2 ** 20) / positionBytes)
      const make = (reserve: number): KvCache =>
        new KvCache(Array.from({ length: TENSORS }, () => new ort.Tensor(dtype, array(dtype, 0), [1, HEADS, 0, DIM])), [], reserve)
      const cache = make(context)
      const buffer = (): ArrayBufferLike => (cache.tensors[0]!.data as KvArray).buffer
      cache.write(fresh(dtype, 0, 3), range(0, 3), () => 8)
      const first = buffer()
      assert.equal(first.byteLength, positionBytes * roomFor(8), 'the first block has the usual room')
      cache.write(fresh(dtype, 3, roomFor(8)), range(3, roomFor(8)), () => 1024)
      const block = buffer()
      const reserved = process.platform !== 'win32'
      assert.equal(block.byteLength, positionBytes * (reserved ? context : roomFor(1024)))
      assertHolds(cache)
      if (!reserved) return
      for (const [n, capacity] of [[1000, 4096], [4000, context - 10]] as const) {
        const from = cache.nPast
        cache.write(fresh(dtype, from, n), range(from, n), () => capacity)
        assert.equal(cache.capacity, capacity)
        assert.ok(buffer() === block, `grew to ${capacity} within the reserved block`)
        assertHolds(cache)
      }
      // Shrinking to half of what was ever laid out stays in the block; below that a new block is taken.
      cache.truncate(200)
      cache.compact(Math.ceil((context - 10) / 2))
      assert.ok(buffer() === block, 'shrunk in place')
      assertHolds(cache)
      cache.compact(256)
      assert.ok(buffer() !== block, 'a deep cut gives the written block back')
      assert.equal(cache.capacity, 256)
      assertHolds(cache)
      // A small reserve is not taken: the block has the usual room.
      const small = make(1000)
      small.write(fresh(dtype, 0, 3), range(0, 3), () => 8)
      small.write(fresh(dtype, 3, roomFor(8)), range(3, roomFor(8)), () => 512)
      assert.equal((small.tensors[0]!.data as KvArray).buffer.byteLength, positionBytes * roomFor(512))
    })

    it('allocates a cache to be filled (a snapshot read into it) at a capacity, with room', () => {
      const layout = { tensors: TENSORS, dtype, kvHeads: HEADS, headDim: DIM }
      const cache = KvCache.allocate(layout, [5, 6, 7], 8, 40)
      assert.equal(cache.nPast, 3)
      assert.equal(cache.capacity, 8)
      assert.equal(cache.tensors.length, TENSORS)
      for (const t of cache.tensors) {
        assert.equal(t.type, dtype)
        assert.deepEqual(t.dims, [1, HEADS, 8, DIM])
      }
      assert.equal((cache.tensors[0]!.data as KvArray).buffer.byteLength, TENSORS * HEADS * DIM * 40 * (dtype === 'float16' ? 2 : 4))
      assert.equal(cache.usedViews(1).length, HEADS)
      // A capacity below the length is raised to it.
      assert.equal(KvCache.allocate(layout, [1, 2, 3, 4], 2).capacity, 4)
    })

    it('gives per-head views of exactly the used positions', () => {
      const cache = emptyCache(dtype)
      cache.write(fresh(dtype, 0, 3), range(0, 3), () => 7)
      const bytesPer = dtype === 'float16' ? 2 : 4
      for (let t = 0; t < TENSORS; t++) {
        const views = cache.usedViews(t)
        assert.equal(views.length, HEADS)
        for (let h = 0; h < HEADS; h++) {
          const v = views[h]!
          assert.equal(v.byteLength, 3 * DIM * bytesPer)
          const typed = dtype === 'float16' ? new Uint16Array(v.buffer, v.byteOffset, v.byteLength / 2) : new Float32Array(v.buffer, v.byteOffset, v.byteLength / 4)
          assert.deepEqual([...typed], range(0, 3).flatMap((p) => range(0, DIM).map((d) => value(t, h, p, d))))
        }
      }
      cache.truncate(1)
      assert.equal(cache.usedViews(0)[1]!.byteLength, DIM * bytesPer)
    })

    it('throws when a fresh tensor holds another number of tokens than were added', () => {
      const cache = emptyCache(dtype)
      cache.write(fresh(dtype, 0, 2), [0, 1], () => 8)
      assert.throws(() => cache.write(fresh(dtype, 2, 2), [2, 3, 4], () => 8), /expected keys and values for 3 tokens, got 2/)
      assert.deepEqual(cache.tokens, [0, 1])
    })
  })
}
