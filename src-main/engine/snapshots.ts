// KV cache snapshots on disk: a conversation's cache survives eviction and restarts.
//
// File layout: "HEARTHKV" (8 bytes), header length (u32 LE), header JSON, zero padding to a multiple
// of 64, then each tensor's bytes in KvCache order. The header names the model identity; a snapshot
// whose identity, sizes or length do not match is ignored and deleted, never loaded.

import { mkdir, open, readFile, readdir, rename, rm, stat, utimes } from 'node:fs/promises'
import path from 'node:path'
import * as ort from 'onnxruntime-node'
import type { KvDtype } from '../../src-shared/types.ts'
import { SNAPSHOT_EXT, snapshotFile } from '../model-format/snapshot-name.ts'
import { KvCache } from './kv-cache.ts'

const MAGIC = 'HEARTHKV'
const VERSION = 1

/** What makes a cache valid for a model: any difference and the snapshot is ignored. */
export interface ModelIdentity {
  /** Absolute path of the .onnx file, its bytes with external data, and its mtime. */
  file: string
  bytes: number
  mtimeMs: number
  variant: string
  kvDtype: KvDtype
  layers: number
  kvHeads: number
  headDim: number
  onnxruntime: string
}

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

  /** The cache saved for `key`, or null when there is none or it does not fit this model. */
  async load(key: string): Promise<KvCache | null> {
    const file = this.fileOf(key)
    let bytes: Buffer
    try {
      bytes = await readFile(file)
    } catch {
      return null
    }
    const cache = this.parse(bytes, key)
    if (cache === null) {
      await rm(file, { force: true })
      return null
    }
    const now = new Date()
    await utimes(file, now, now).catch(() => undefined)
    return cache
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

  private parse(bytes: Buffer, key: string): KvCache | null {
    if (bytes.length < 12 || bytes.toString('latin1', 0, 8) !== MAGIC) return null
    const headerLength = bytes.readUInt32LE(8)
    let header: Header
    try {
      header = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength)) as Header
    } catch {
      return null
    }
    const id = this.identity
    if (header.version !== VERSION || header.key !== key || JSON.stringify(header.identity) !== JSON.stringify(id)) {
      return null
    }
    if (!Array.isArray(header.tokens) || !header.tokens.every((t) => Number.isInteger(t))) return null
    const n = header.tokens.length
    const elementBytes = id.kvDtype === 'float16' ? 2 : 4
    const tensorBytes = id.kvHeads * n * id.headDim * elementBytes
    let offset = align(12 + headerLength)
    if (bytes.length !== offset + 2 * id.layers * tensorBytes) return null
    const tensors: ort.Tensor[] = []
    for (let i = 0; i < 2 * id.layers; i++) {
      // Copied out so each tensor owns an aligned buffer and the file buffer can be collected.
      const chunk = new Uint8Array(tensorBytes)
      chunk.set(bytes.subarray(offset, offset + tensorBytes))
      offset += tensorBytes
      const dims = [1, id.kvHeads, n, id.headDim]
      tensors.push(
        id.kvDtype === 'float16'
          ? new ort.Tensor('float16', new Uint16Array(chunk.buffer), dims)
          : new ort.Tensor('float32', new Float32Array(chunk.buffer), dims),
      )
    }
    return new KvCache(tensors, header.tokens)
  }

  private async readHeader(file: string): Promise<Header | null> {
    let handle
    try {
      handle = await open(file, 'r')
    } catch {
      return null
    }
    try {
      const start = Buffer.alloc(12)
      await handle.read(start, 0, 12, 0)
      if (start.toString('latin1', 0, 8) !== MAGIC) return null
      const length = start.readUInt32LE(8)
      const bytes = Buffer.alloc(length)
      const { bytesRead } = await handle.read(bytes, 0, length, 12)
      if (bytesRead !== length) return null
      const header = JSON.parse(bytes.toString('utf8')) as Header
      return header.version === VERSION && typeof header.key === 'string' && Array.isArray(header.tokens) ? header : null
    } catch {
      return null
    } finally {
      await handle.close()
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
