// KV cache snapshots on disk: a conversation's cache survives eviction and restarts.
//
// File layout: "HEARTHKV" (8 bytes), header length (u32 LE), header JSON, zero padding to a multiple
// of 64, then each tensor's bytes in KvCache order. The header names the model identity; a snapshot
// whose identity, sizes or length do not match is ignored and deleted, never loaded.

import { mkdir, open, readdir, rename, rm, stat, utimes, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import type { KvDtype } from '../../src-shared/types.ts'
import { SNAPSHOT_EXT, snapshotFile } from '../model-format/snapshot-name.ts'
import { KvCache } from './kv-cache.ts'

const MAGIC = 'HEARTHKV'
const VERSION = 1
/** A header longer than this is not one: a context of millions of tokens written as JSON. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024

/** What makes a cache valid for a model: any difference and the snapshot is ignored. */
export interface ModelIdentity {
  /** Absolute path of the .onnx file, its bytes with external data, and its mtime. */
  file: string
  bytes: number
  mtimeMs: number
  variant: string
  kvDtype: KvDtype
  /** A cache computed with int8 activations differs in its last bits from one computed without. */
  int8Activations: boolean
  layers: number
  kvHeads: number
  headDim: number
  onnxruntime: string
}

/** The capacity a cache of `nPast` positions is laid out at, and the positions its block has room for. */
export type KvRoom = (nPast: number) => { capacity: number; room: number }

interface Header {
  version: number
  key: string
  identity: ModelIdentity
  tokens: number[]
}

export class SnapshotStore {
  constructor(
    private readonly dir: string,
    private readonly identity: ModelIdentity,
    private readonly budgetBytes: number,
  ) {}

  /** Writes a CPU cache (device caches cannot be read back: see KvCache#truncate). */
  async save(key: string, cache: KvCache): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const header = Buffer.from(JSON.stringify({ version: VERSION, key, identity: this.identity, tokens: cache.tokens } satisfies Header))
    const prefix = Buffer.alloc(align(12 + header.length))
    prefix.write(MAGIC, 0, 'latin1')
    prefix.writeUInt32LE(header.length, 8)
    header.copy(prefix, 12)
    const parts: Uint8Array[] = [prefix]
    // Only the used positions, head by head: the file holds [kvHeads, length, headDim] per tensor.
    for (let i = 0; i < cache.tensors.length; i++) parts.push(...cache.usedViews(i))
    // Written under a temporary name and renamed, so a crash never leaves a half snapshot in place.
    const file = this.fileOf(key)
    const handle = await open(`${file}.tmp`, 'w')
    try {
      await handle.writev(parts)
    } finally {
      await handle.close()
    }
    await rename(`${file}.tmp`, file)
    await this.enforceBudget()
  }

  /**
   * The cache saved for `key`, or null when there is none or it does not fit this model (then the
   * file is deleted). `keep` reads only the first positions (a prefix another conversation shares).
   * `layout` gives the capacity and room for the cache's length: the file is read head by head
   * straight into the cache's tensors, which are allocated once, at their final size.
   */
  async load(key: string, layout: KvRoom = (n) => ({ capacity: n, room: n }), keep = Infinity): Promise<KvCache | null> {
    const file = this.fileOf(key)
    let handle
    try {
      handle = await open(file, 'r')
    } catch {
      return null
    }
    let cache: KvCache | null
    try {
      cache = await this.read(handle, key, layout, keep)
    } finally {
      await handle.close()
    }
    if (cache === null) {
      await rm(file, { force: true })
      return null
    }
    const now = new Date()
    await utimes(file, now, now).catch(() => undefined)
    return cache
  }

  /** The positions `key`'s snapshot holds when there is one for this model, else null (nothing is deleted). */
  async length(key: string): Promise<number | null> {
    const header = await this.readHeader(this.fileOf(key))
    const fits = header !== null && header.key === key && JSON.stringify(header.identity) === JSON.stringify(this.identity)
    return fits ? header.tokens.length : null
  }

  /**
   * The tokens of every snapshot that fits this model, read from the headers alone: what a new
   * conversation looks through for a prefix it shares with one on disk.
   */
  async prefixes(): Promise<{ key: string; tokens: number[] }[]> {
    let names: string[]
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith(SNAPSHOT_EXT))
    } catch {
      return []
    }
    const found: { key: string; tokens: number[] }[] = []
    for (const name of names) {
      const header = await this.readHeader(path.join(this.dir, name))
      if (header !== null && JSON.stringify(header.identity) === JSON.stringify(this.identity)) found.push({ key: header.key, tokens: header.tokens })
    }
    return found
  }

  async remove(key: string): Promise<void> {
    await rm(this.fileOf(key), { force: true })
  }

  private async read(handle: FileHandle, key: string, layout: KvRoom, keep: number): Promise<KvCache | null> {
    const found = await this.header(handle)
    if (found === null) return null
    const { header, dataStart } = found
    const id = this.identity
    if (header.key !== key || JSON.stringify(header.identity) !== JSON.stringify(id)) return null
    if (!header.tokens.every((t) => Number.isInteger(t))) return null
    const n = header.tokens.length
    const elementBytes = id.kvDtype === 'float16' ? 2 : 4
    const tensors = 2 * id.layers
    const { size } = await handle.stat()
    if (size !== dataStart + tensors * id.kvHeads * n * id.headDim * elementBytes) return null
    const kept = Math.min(n, keep)
    const { capacity, room } = layout(kept)
    const cache = KvCache.allocate({ tensors, dtype: id.kvDtype, kvHeads: id.kvHeads, headDim: id.headDim }, header.tokens.slice(0, kept), capacity, room)
    // The file holds each head's n positions in turn; the cache's views are its first `kept`.
    const headBytes = n * id.headDim * elementBytes
    const reads: { view: Uint8Array; position: number }[] = []
    for (let i = 0; i < tensors; i++) {
      cache.usedViews(i).forEach((view, h) => reads.push({ view, position: dataStart + (i * id.kvHeads + h) * headBytes }))
    }
    const results = await Promise.all(reads.map(({ view, position }) => handle.read(view, 0, view.byteLength, position)))
    return results.every((r, i) => r.bytesRead === reads[i]!.view.byteLength) ? cache : null
  }

  private async readHeader(file: string): Promise<Header | null> {
    let handle
    try {
      handle = await open(file, 'r')
    } catch {
      return null
    }
    try {
      return (await this.header(handle))?.header ?? null
    } finally {
      await handle.close()
    }
  }

  /** The header of an open snapshot and where its tensors start, or null when it is not one of this version. */
  private async header(handle: FileHandle): Promise<{ header: Header; dataStart: number } | null> {
    try {
      const start = Buffer.alloc(12)
      if ((await handle.read(start, 0, 12, 0)).bytesRead !== 12) return null
      if (start.toString('latin1', 0, 8) !== MAGIC) return null
      const length = start.readUInt32LE(8)
      if (length > MAX_HEADER_BYTES) return null
      const bytes = Buffer.alloc(length)
      const { bytesRead } = await handle.read(bytes, 0, length, 12)
      if (bytesRead !== length) return null
      const header = JSON.parse(bytes.toString('utf8')) as Header
      const valid = header.version === VERSION && typeof header.key === 'string' && Array.isArray(header.tokens)
      return valid ? { header, dataStart: align(12 + length) } : null
    } catch {
      return null
    }
  }

  /** Deletes the least recently used snapshots until the rest fit the disk budget. */
  private async enforceBudget(): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith(SNAPSHOT_EXT))
    const files = await Promise.all(
      names.map(async (n) => {
        const s = await stat(path.join(this.dir, n))
        return { file: path.join(this.dir, n), size: s.size, mtimeMs: s.mtimeMs }
      }),
    )
    files.sort((a, b) => b.mtimeMs - a.mtimeMs)
    let total = 0
    for (const f of files) {
      total += f.size
      if (total > this.budgetBytes) await rm(f.file, { force: true })
    }
  }

  private fileOf(key: string): string {
    return snapshotFile(this.dir, key)
  }
}

function align(n: number): number {
  return Math.ceil(n / 64) * 64
}
