// One conversation's KV cache: the past key/value tensors and the token ids they were computed from.

import * as ort from 'onnxruntime-node'
import type { KvDtype } from '../../src-shared/types.ts'

type KvArray = Float32Array | Uint16Array

/** Positions of room a new block has beyond its capacity at least (see resize). */
const MIN_ROOM = 256

/**
 * A block reserved for a whole context is allocated only where that costs no memory until used:
 * at this size glibc always maps fresh zero pages (its mmap threshold tops out at 32 MiB) and macOS
 * does the same for large allocations, so only the pages written count. Windows charges the whole
 * allocation against its commit limit at once, so there blocks keep growing a quarter at a time.
 */
const LAZY_RESERVE_MIN = 32 * 2 ** 20
const LAZY_PAGES = process.platform !== 'win32'
/** The most a block is reserved for (a 128K-token context of a larger model would be tens of GiB). */
const RESERVE_MAX = 2 ** 30

/** The positions a new block for `capacity` positions has room for: a quarter more, at least MIN_ROOM more. */
export function roomFor(capacity: number): number {
  return capacity + Math.max(capacity >> 2, MIN_ROOM)
}

/** What a cache's tensors look like: `tensors` of [1, kvHeads, positions, headDim] each. */
export interface KvLayout {
  tensors: number
  dtype: KvDtype
  kvHeads: number
  headDim: number
}

/**
 * Invariant [TAG_KV_TOKENS]: `tokens[i]` is the token whose keys and values sit at position i of
 * every tensor, so `tokens.length === nPast` always. Whoever changes one changes both.
 *
 * Each tensor is [1, kvHeads, capacity, headDim] with capacity >= nPast: positions from `nPast`
 * on are room to grow into (in-place sessions feed them masked) or left over after a truncate.
 * A session that feeds the export's own `present.*` back needs capacity === nPast (`compact`).
 */
export class KvCache {
  /** 2 x layers tensors in layer order, key then value. */
  tensors: ort.Tensor[]
  readonly tokens: number[]
  /** The allocation every tensor is a view of, in order from its start, when resize made them (else null). */
  private block: ArrayBuffer | null = null
  /** Whether `block` was reserved for `reservePositions`, its pages untouched beyond `written`. */
  private reserved = false
  /** Bytes of `block` ever laid out (the pages written, where it was reserved). */
  private written = 0

  /**
   * `reservePositions`: the most positions the cache can reach (its session's context). When a
   * cache outgrows its first block, where pages are given lazily (LAZY_PAGES) and the reserve is
   * large, the next block is reserved for all of them (up to RESERVE_MAX): growing then only
   * moves heads within it, and no outgrown block is left for the collector while a new one is
   * written (at 4,096 tokens of SmolLM2-135M, ~125 MiB of peak memory during a prefill). A cache
   * that never outgrows its first block (a short chat, the load-time checks) reserves nothing.
   */
  constructor(
    tensors: ort.Tensor[],
    tokens: number[] = [],
    private readonly reservePositions = 0,
  ) {
    this.tensors = tensors
    this.tokens = tokens
  }

  /**
   * A cache of `tokens.length` positions whose values are still to be written (a snapshot reads
   * them into `usedViews`), laid out at `capacity` positions in a block with room for `room`.
   */
  static allocate(layout: KvLayout, tokens: readonly number[], capacity: number, room = capacity): KvCache {
    const empty = layout.dtype === 'float16' ? new Uint16Array(0) : new Float32Array(0)
    const cache = new KvCache(Array.from({ length: layout.tensors }, () => new ort.Tensor(layout.dtype, empty, [1, layout.kvHeads, 0, layout.headDim])))
    cache.resize(Math.max(capacity, tokens.length), room)
    for (const t of tokens) cache.tokens.push(t)
    return cache
  }

  /** Positions the cache holds: the tokens a pass attends over before its own. */
  get nPast(): number {
    return this.tokens.length
  }

  /** Positions the tensors hold, used or not. */
  get capacity(): number {
    return (this.tensors[0]?.dims[2] as number | undefined) ?? 0
  }

  /** Bytes held by the tensors (on the CPU or on a device), spare capacity included. */
  get bytes(): number {
    let total = 0
    for (const t of this.tensors) total += t.size * (t.type === 'float16' ? 2 : 4)
    return total
  }

  /** Takes the outputs of a forward pass over `added` as the new cache; device tensors replaced are freed. */
  advance(present: ort.Tensor[], added: ArrayLike<number>): void {
    for (let i = 0; i < this.tensors.length; i++) {
      const old = this.tensors[i]!
      if (old !== present[i] && old.location === 'gpu-buffer') old.dispose()
    }
    this.tensors = present
    this.block = null
    this.reserved = false
    for (let i = 0; i < added.length; i++) this.tokens.push(added[i]!)
  }

  /**
   * Writes the keys and values of `added` ([1, kvHeads, added.length, headDim] each, in tensor
   * order) at positions nPast.., growing the tensors to `grow(nPast + added.length)` positions
   * first when they are full. The cache is never read by a pass while this runs.
   */
  write(fresh: ort.Tensor[], added: ArrayLike<number>, grow: (needed: number) => number): void {
    const n = added.length
    const nPast = this.nPast
    if (nPast + n > this.capacity) {
      const capacity = grow(nPast + n)
      if (capacity < nPast + n) throw new Error(`cannot grow the cache to ${capacity} positions for ${nPast + n}`)
      this.resize(capacity)
    }
    const cap = this.capacity
    for (let i = 0; i < this.tensors.length; i++) {
      const dst = this.tensors[i]!.data as KvArray
      const src = fresh[i]!.data as KvArray
      const [, heads, count, dim] = fresh[i]!.dims as [number, number, number, number]
      if (count !== n) throw new Error(`expected keys and values for ${n} tokens, got ${count}`)
      for (let h = 0; h < heads; h++) dst.set(src.subarray(h * n * dim, (h + 1) * n * dim), (h * cap + nPast) * dim)
    }
    for (let i = 0; i < n; i++) this.tokens.push(added[i]!)
  }

  /** Room for `positions` without growing again (a prompt's length, before its prefill). */
  reserve(positions: number): void {
    if (positions > this.capacity && !this.onDevice) this.resize(positions)
  }

  /** True when the tensors live on a GPU device ('gpu-buffer'). */
  get onDevice(): boolean {
    return this.tensors.some((t) => t.location === 'gpu-buffer')
  }

  /**
   * Keeps the first `n` positions (a no-op when n >= nPast). On the CPU nothing moves: the
   * positions after `n` become spare capacity. A device cache cannot be read back (getData on a
   * 'gpu-buffer' tensor aborts the process in onnxruntime-node 1.30), so it is emptied instead:
   * callers read `nPast` afterwards and recompute what is missing.
   */
  truncate(n: number): void {
    if (n >= this.nPast) return
    if (this.onDevice) {
      this.resize(0)
      this.tokens.length = 0
      return
    }
    this.tokens.length = n
  }

  /**
   * Shrinks the tensors to `capacity` positions (at least nPast): by default exactly nPast, as
   * sessions that feed the export's whole-cache outputs back need.
   */
  compact(capacity = this.nPast): void {
    const target = Math.max(capacity, this.nPast)
    if (this.capacity > target && !this.onDevice) this.resize(target)
  }

  /**
   * A new cache holding the first `n` positions of this one (another conversation starting from
   * the same prefix), laid out at `capacity` positions in a block with room for `room` (resize's
   * default when not given). CPU caches only: a device cache cannot be read.
   */
  copyPrefix(n: number, capacity = n, room?: number): KvCache {
    if (this.onDevice) throw new Error('a device cache cannot be copied')
    const kept = Math.min(n, this.nPast)
    const copy = new KvCache(this.tensors, this.tokens.slice(0, kept), this.reservePositions)
    // resize allocates new tensors and copies the kept positions into them: `this` is untouched.
    copy.resize(Math.max(capacity, kept), room)
    return copy
  }

  /** The used positions of tensor `i`, one view per KV head (what a snapshot writes). */
  usedViews(i: number): Uint8Array[] {
    const t = this.tensors[i]!
    const data = t.data as KvArray
    const [, heads, cap, dim] = t.dims as [number, number, number, number]
    const views: Uint8Array[] = []
    for (let h = 0; h < heads; h++) {
      const part = data.subarray(h * cap * dim, (h * cap + this.nPast) * dim)
      views.push(new Uint8Array(part.buffer, part.byteOffset, part.byteLength))
    }
    return views
  }

  /**
   * Reads one value in each page of the used positions. Memory the kernel has just written (a
   * snapshot read into it) can still cost a fault on its first read from here on some virtual
   * machines (the build machine's: 144 ms for 150 MB, then 1 ms); a cache read ahead of its
   * request pays that then, not in its first pass.
   */
  touch(): number {
    let sum = 0
    for (let i = 0; i < this.tensors.length; i++) {
      if (this.tensors[i]!.location === 'gpu-buffer') continue
      for (const view of this.usedViews(i)) for (let b = 0; b < view.length; b += 4096) sum += view[b]!
    }
    return sum
  }

  dispose(): void {
    for (const t of this.tensors) if (t.location === 'gpu-buffer') t.dispose()
    this.tensors = []
    this.block = null
    this.tokens.length = 0
  }

  /**
   * Lays the tensors out at `capacity` positions, keeping the used ones. All tensors are views of
   * one block (one large allocation per growth is returned to the system when freed, where a block
   * per tensor would fragment the heap over a long decode). The block has room beyond `capacity`
   * (`room` positions, by default a quarter more): growing into it moves each head's positions up
   * within memory already in use, where a new block would be written from scratch. Fresh memory
   * is slow to touch (the kernel zeroes each page on first write: 0.4 GB/s on the build machine's
   * VM against 18 GB/s to copy within touched memory), and a cache grows every GROW_STEP tokens.
   */
  private resize(capacity: number, room = roomFor(capacity)): void {
    if (this.block !== null && this.fitsInPlace(capacity)) {
      this.relayout(capacity)
      return
    }
    const kept = Math.min(this.nPast, capacity)
    const perPosition = this.tensors.map((t) => {
      const [batch, heads, , dim] = t.dims as [number, number, number, number]
      return batch * heads * dim
    })
    const elementBytes = this.tensors[0]?.type === 'float16' ? 2 : 4
    const positionBytes = perPosition.reduce((a, b) => a + b, 0) * elementBytes
    const reservable = Math.min(this.reservePositions, Math.floor(RESERVE_MAX / Math.max(1, positionBytes)))
    const outgrown = this.block !== null && capacity > this.capacity
    const reserve = outgrown && LAZY_PAGES && reservable > Math.max(room, capacity) && reservable * positionBytes >= LAZY_RESERVE_MIN
    const positions = reserve ? reservable : Math.max(room, capacity)
    const block = new ArrayBuffer(positionBytes * positions)
    let offset = 0
    this.tensors = this.tensors.map((t, i) => {
      const [batch, heads, cap, dim] = t.dims as [number, number, number, number]
      const size = perPosition[i]! * capacity
      const dst = t.type === 'float16' ? new Uint16Array(block, offset, size) : new Float32Array(block, offset, size)
      offset += size * elementBytes
      if (t.location === 'gpu-buffer') {
        t.dispose()
      } else {
        const src = t.data as KvArray
        for (let h = 0; h < batch * heads; h++) dst.set(src.subarray(h * cap * dim, (h * cap + kept) * dim), h * capacity * dim)
      }
      return new ort.Tensor(t.type as KvDtype, dst, [batch, heads, capacity, dim])
    })
    this.block = block
    this.reserved = reserve
    this.written = positionBytes * capacity
  }

  /** Whether `capacity` fits the block, and is not so much smaller that the block should be given back. */
  private fitsInPlace(capacity: number): boolean {
    const needed = (this.bytes / Math.max(1, this.capacity)) * capacity
    const size = this.block?.byteLength ?? 0
    // What the block costs: all of it, or, reserved, the pages written so far.
    const held = this.reserved ? this.written : size
    return this.capacity > 0 && needed <= size && (capacity > this.capacity || needed * 2 >= held)
  }

  /**
   * Moves each head's used positions to where a capacity of `capacity` puts them, within the
   * block. Growing moves everything up, so the heads are moved last first (none lands on one
   * not moved yet); shrinking moves them down, first first. copyWithin is a memmove.
   */
  private relayout(capacity: number): void {
    const block = this.block as ArrayBuffer
    const from = this.capacity
    const kept = Math.min(this.nPast, capacity)
    const float16 = this.tensors[0]!.type === 'float16'
    const all = float16 ? new Uint16Array(block) : new Float32Array(block)
    const moves: [to: number, start: number, length: number][] = []
    let before = 0
    let after = 0
    for (const t of this.tensors) {
      const [batch, heads, , dim] = t.dims as [number, number, number, number]
      for (let h = 0; h < batch * heads; h++) moves.push([after + h * capacity * dim, before + h * from * dim, kept * dim])
      before += batch * heads * from * dim
      after += batch * heads * capacity * dim
    }
    if (capacity > from) moves.reverse()
    for (const [to, start, length] of moves) if (to !== start && length > 0) all.copyWithin(to, start, start + length)
    let offset = 0
    this.tensors = this.tensors.map((t) => {
      const [batch, heads, , dim] = t.dims as [number, number, number, number]
      const size = batch * heads * capacity * dim
      const data = float16 ? new Uint16Array(block, offset * 2, size) : new Float32Array(block, offset * 4, size)
      offset += size
      return new ort.Tensor(t.type as KvDtype, data, [batch, heads, capacity, dim])
    })
    this.written = Math.max(this.written, offset * (float16 ? 2 : 4))
  }
}
