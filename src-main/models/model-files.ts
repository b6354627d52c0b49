// File work on model folders: the files one variant owns, disk usage, and copying a folder in.

import { randomUUID } from 'node:crypto'
import { cp, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../src-shared/errors.ts'
import type { DownloadIo } from './file-download.ts'
import { formatBytes } from './format.ts'

/** Weights in other formats and VCS data: an imported copy leaves them behind. */
const NOT_COPIED = /(\.(safetensors|bin|pt|pth|gguf|ckpt|h5|msgpack|ot)|^\.git)$/i

/** Absolute paths of a variant's .onnx file and its external data chunks. */
export async function variantFiles(modelDir: string, onnxFile: string): Promise<string[]> {
  const abs = path.join(modelDir, onnxFile)
  const base = path.basename(abs)
  const escaped = base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const chunk = new RegExp(`^${escaped}(_data(_\\d+)?|\\.data)$`)
  const siblings = await readdir(path.dirname(abs))
  return [abs, ...siblings.filter((n) => chunk.test(n)).map((n) => path.join(path.dirname(abs), n))]
}

/** Bytes of every file under dir; symbolic links count as themselves, not their targets. */
export async function diskUsage(dir: string): Promise<number> {
  const info = await lstat(dir)
  if (!info.isDirectory()) return info.size
  let total = 0
  for (const entry of await readdir(dir)) total += await diskUsage(path.join(dir, entry))
  return total
}

/**
 * Copies a model folder to dest through a temporary folder beside it, so dest appears whole or
 * not at all. Links are followed: a Hugging Face cache snapshot is links into its blobs.
 */
export async function copyModelFolder(src: string, dest: string, tmpRoot: string, io: DownloadIo): Promise<void> {
  const needed = await copiedBytes(src)
  await mkdir(tmpRoot, { recursive: true })
  const free = await io.freeBytes(tmpRoot)
  if (free < needed) {
    throw new AppError('DISK_FULL', `Copying ${src} needs ${formatBytes(needed)} and the models folder's disk has ${formatBytes(free)} free`)
  }
  const tmp = path.join(tmpRoot, randomUUID())
  try {
    await cp(src, tmp, {
      recursive: true,
      dereference: true,
      errorOnExist: true,
      filter: (from) => from === src || !NOT_COPIED.test(path.basename(from)),
    })
    await rename(tmp, dest)
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new AppError('DISK_FULL', `The disk filled up while copying ${src}; nothing was imported`)
    }
    throw err
  }
}

async function copiedBytes(dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir)) {
    if (NOT_COPIED.test(entry)) continue
    const full = path.join(dir, entry)
    const info = await stat(full)
    total += info.isDirectory() ? await copiedBytes(full) : info.size
  }
  return total
}
