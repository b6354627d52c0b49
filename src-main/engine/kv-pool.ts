// The KV cache pool: one cache per conversation, reused by longest common token prefix, under a
// byte budget with least-recently-used eviction to disk snapshots.

import type { CacheInfo, Warmed } from '../model-format/protocol.ts'
import { roomFor, type KvCache } from './kv-cache.ts'
import type { KvRoom, SnapshotStore } from './snapshots.ts'

export interface PoolEntry {
  /** The conversation id, or `anonymous:<n>` for requests that name none. */
  readonly key: string
  cache: KvCache
  lastUsed: number
  /** A generation is running on it: never evicted, never handed out twice. */
  busy: boolean
  /** Its snapshot on disk holds exactly it (read from there, untouched since): evicting it writes nothing. */
  onDisk?: boolean
}

export interface PoolOptions {
  budgetBytes: number
  bytesPerToken: number
  newCache: () => KvCache
  snapshots: SnapshotStore | null
  /** Positions a cache holds to fit `n` (in-place caches grow in steps); default: n. */
  positionsFor?: (n: number) => number
  /** Caches kept for requests without a conversation (the API server), like llama.cpp's slots. */
  anonymousSlots?: number
}

export interface Acquired {
  entry: PoolEntry
  /**
   * The cache's positions once cut to the prompt's common prefix: prompt tokens served from the
   * cache (the reply's stats call them reusedTokens); prefill starts at this position.
   */
  nPast: number
  restoredFromDisk: boolean
  /** A new cache started from another's prefix (seed): whose, else null. */
  seededFrom: string | null
}

/**
 * The least prefix a new cache copies from another: below a prefill chunk's worth, reading a
 * snapshot or copying tensors buys little (a system prompt alone is not worth a disk read).
 */
export const MIN_SEED_TOKENS = 64

const ANONYMOUS = 'anonymous:'

export class KvPool {
  private entries = new Map<string, PoolEntry>()
  private clock = 0

  constructor(private readonly opts: PoolOptions) {}

  get budgetBytes(): number {
    return this.opts.budgetBytes
  }

  /** Bytes held by every cache in memory. */
  get bytes(): number {
    let total = 0
    for (const e of this.entries.values()) total += e.cache.bytes
    return total
  }

  /**
   * The cache for a request, truncated to its longest common prefix with `prompt` and marked busy.
   * Room for `reserveTokens` more (the reply) is made first by evicting idle caches, oldest first.
   */
  async acquire(conversationId: string | undefined, prompt: readonly number[], reserveTokens: number): Promise<Acquired> {
    let restoredFromDisk = false
    let seededFrom: string | null = null
    let entry = conversationId === undefined ? this.pickAnonymous(prompt) : this.entries.get(conversationId)
    if (!entry) {
      const key = conversationId ?? this.newAnonymousKey()
      const room = this.room(prompt.length + reserveTokens)
      const restored = conversationId === undefined ? null : await this.opts.snapshots?.load(key, room) ?? null
      restoredFromDisk = restored !== null
      const seeded = restored === null ? await this.seed(prompt, room) : null
      seededFrom = seeded?.from ?? null
      entry = { key, cache: restored ?? seeded?.cache ?? this.opts.newCache(), lastUsed: 0, busy: false }
      this.entries.set(key, entry)
    }
    if (entry.busy) throw new Error(`the cache of ${entry.key} is in use`)
    entry.busy = true
    entry.onDisk = false
    try {
      // The positions to keep are the tokens shared with the prompt [TAG_KV_TOKENS].
      // [TAG_LAST_TOKEN_EVAL] When the whole prompt is cached, its last token is evaluated again:
      // sampling needs the logits of the final position and the cache keeps none.
      entry.cache.truncate(Math.min(commonPrefix(entry.cache.tokens, prompt), prompt.length - 1))
      const positions = prompt.length + reserveTokens
      await this.makeRoom(entry, (this.opts.positionsFor?.(positions) ?? positions) * this.opts.bytesPerToken)
      entry.lastUsed = ++this.clock
      // A device cache may have been emptied rather than cut (KvCache#truncate): nPast tells.
      return { entry, nPast: entry.cache.nPast, restoredFromDisk, seededFrom }
    } catch (err) {
      entry.busy = false
      throw err
    }
  }

  /**
   * Brings a conversation's cache into memory before it is asked for (the chat was opened): read
   * from its snapshot and touched, so its first question starts without the disk read. Only when
   * it fits the budget beside the caches held: a cache read ahead never pushes another out.
   */
  async warm(conversationId: string): Promise<Warmed> {
    const held = this.entries.get(conversationId)
    if (held) return { from: 'memory', tokens: held.cache.nPast }
    const snapshots = this.opts.snapshots
    const length = (await snapshots?.length(conversationId)) ?? null
    if (snapshots == null || length === null) return { from: 'none', reason: 'no-snapshot' }
    const room = this.room(0)
    if (this.bytes + room(length).capacity * this.opts.bytesPerToken > this.opts.budgetBytes) return { from: 'none', reason: 'budget' }
    const cache = await snapshots.load(conversationId, room)
    if (cache === null) return { from: 'none', reason: 'no-snapshot' }
    // Asked for meanwhile (a send right after opening the chat takes the snapshot itself).
    if (this.entries.has(conversationId)) {
      cache.dispose()
      return { from: 'memory', tokens: this.entries.get(conversationId)!.cache.nPast }
    }
    cache.touch()
    this.entries.set(conversationId, { key: conversationId, cache, lastUsed: ++this.clock, busy: false, onDisk: true })
    return { from: 'snapshot', tokens: cache.nPast }
  }

  release(entry: PoolEntry): void {
    entry.busy = false
    entry.lastUsed = ++this.clock
  }

  /** Forgets a conversation's cache, in memory and on disk. */
  async drop(conversationId: string): Promise<void> {
    const entry = this.entries.get(conversationId)
    if (entry && !entry.busy) {
      entry.cache.dispose()
      this.entries.delete(conversationId)
    }
    await this.opts.snapshots?.remove(conversationId)
  }

  /** Writes every idle conversation cache to disk (at quit or unload) and frees them all. */
  async persistAll(): Promise<void> {
    for (const entry of [...this.entries.values()]) {
      if (!entry.busy) await this.evict(entry)
    }
  }

  info(): CacheInfo[] {
    return [...this.entries.values()]
      .sort((a, b) => b.lastUsed - a.lastUsed)
      .map((e) => ({ conversationId: e.key, tokens: e.cache.nPast, bytes: e.cache.bytes }))
  }

  /** Evicts idle caches, least recently used first, until `entry` can grow to `needBytes`. */
  private async makeRoom(entry: PoolEntry, needBytes: number): Promise<void> {
    const others = (): number => this.bytes - entry.cache.bytes
    const idle = [...this.entries.values()].filter((e) => e !== entry && !e.busy).sort((a, b) => a.lastUsed - b.lastUsed)
    for (const victim of idle) {
      if (others() + Math.max(needBytes, entry.cache.bytes) <= this.opts.budgetBytes) break
      await this.evict(victim)
    }
  }

  private async evict(entry: PoolEntry): Promise<void> {
    this.entries.delete(entry.key)
    // Device caches cannot be read back to write them (KvCache#truncate says why).
    if (!entry.key.startsWith(ANONYMOUS) && entry.cache.nPast > 0 && !entry.cache.onDevice && entry.onDisk !== true) {
      try {
        await this.opts.snapshots?.save(entry.key, entry.cache)
      } catch (err) {
        // A snapshot is an optimisation: a full disk costs the next turn a full prefill, not the reply.
        console.error(`KV snapshot of ${entry.key} not written: ${(err as Error).message}`)
      }
    }
    entry.cache.dispose()
  }

  /**
   * A cache for a conversation that has none, holding the longest prefix its prompt shares with
   * any other cache, in memory or on disk (a new chat with the same document, an API client
   * sending a chat's prompt): a copy, so neither changes the other. Null when no cache shares
   * MIN_SEED_TOKENS.
   */
  private async seed(prompt: readonly number[], room: KvRoom): Promise<{ cache: KvCache; from: string } | null> {
    // [TAG_LAST_TOKEN_EVAL] The prompt's last token is always evaluated again.
    const usable = prompt.length - 1
    let best: { n: number; entry: PoolEntry | null; snapshot: string | null } = { n: MIN_SEED_TOKENS - 1, entry: null, snapshot: null }
    for (const entry of this.entries.values()) {
      if (entry.busy || entry.cache.onDevice) continue
      const n = Math.min(commonPrefix(entry.cache.tokens, prompt), usable)
      if (n > best.n) best = { n, entry, snapshot: null }
    }
    if (usable > best.n) {
      for (const snapshot of (await this.opts.snapshots?.prefixes()) ?? []) {
        // A cache in memory is newer than its snapshot and was looked at above.
        if (this.entries.has(snapshot.key)) continue
        const n = Math.min(commonPrefix(snapshot.tokens, prompt), usable)
        if (n > best.n) best = { n, entry: null, snapshot: snapshot.key }
      }
    }
    if (best.entry !== null) {
      const { capacity, room: positions } = room(best.n)
      return { cache: best.entry.cache.copyPrefix(best.n, capacity, positions), from: best.entry.key }
    }
    if (best.snapshot === null) return null
    // Its shared prefix, read for this conversation alone: the snapshot stays on disk for its own.
    const loaded = await this.opts.snapshots?.load(best.snapshot, room, best.n)
    return loaded ? { cache: loaded, from: best.snapshot } : null
  }

  /**
   * How a cache arriving with `nPast` positions (a snapshot, a copied prefix) is laid out: at the
   * capacity that holds them, in a block with room for the whole request (`positions`: the prompt
   * and the reply), so the turn never moves it to a new block.
   */
  private room(positions: number): KvRoom {
    const capacityOf = (n: number): number => this.opts.positionsFor?.(n) ?? n
    return (nPast) => {
      const capacity = capacityOf(nPast)
      return { capacity, room: Math.max(roomFor(capacity), capacityOf(positions)) }
    }
  }

  /** The anonymous slot sharing the longest prefix with `prompt`, else the least recently used one once all slots exist. */
  private pickAnonymous(prompt: readonly number[]): PoolEntry | undefined {
    const slots = [...this.entries.values()].filter((e) => e.key.startsWith(ANONYMOUS) && !e.busy)
    let best: PoolEntry | undefined
    let bestLength = 0
    for (const slot of slots) {
      const n = commonPrefix(slot.cache.tokens, prompt)
      if (n > bestLength) [best, bestLength] = [slot, n]
    }
    if (best) return best
    if (slots.length < (this.opts.anonymousSlots ?? 4)) return undefined
    return slots.sort((a, b) => a.lastUsed - b.lastUsed)[0]
  }

  private newAnonymousKey(): string {
    for (let i = 0; ; i++) if (!this.entries.has(`${ANONYMOUS}${i}`)) return `${ANONYMOUS}${i}`
  }
}

export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a[i] === b[i]) i++
  return i
}
