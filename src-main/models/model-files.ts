// File work on model folders: the files one variant owns, disk usage, and copying a folder in.

import { randomUUID } from 'node:crypto'
import { constants } from 'node:fs'
import { copyFile, lstat, mkdir, readdir, readlink, realpath, rename, rm, stat } from 'node:fs/promises'
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
 * [TAG_IMPORT_LINKS] What a copy-import follows. A link is copied as the file it points to when
 * that file lies inside the folder being imported, or, in a Hugging Face cache snapshot
 * (`…/models--<owner>--<name>/snapshots/<revision>/`), directly in that repository's `blobs/`,
 * where huggingface_hub keeps every file its snapshots link to. Any other link (out of the
 * folder, `../..`, dangling, looping, or to a folder, even one inside: that is how a walk loops)
 * and anything neither file nor folder (a pipe, a device) makes the import IMPORT_INVALID naming
 * it, before a byte is copied. A link-import copies nothing and follows nothing itself.
 */
export interface CopyPlan {
  src: string
  files: Array<{ /** Where the bytes are read, with links resolved. */ from: string; /** Path segments in the copy. */ to: string[]; size: number }>
}

/** Every file a copy of `src` takes, links checked [TAG_IMPORT_LINKS]; other weight formats and VCS data stay behind. */
export async function planCopy(src: string): Promise<CopyPlan> {
  const root = await realpath(src)
  const blobs = await snapshotBlobs(root)
  const plan: CopyPlan = { src, files: [] }

  async function follow(link: string, shown: string): Promise<{ from: string; size: number }> {
    const target = path.resolve(path.dirname(link), await readlink(link))
    let real: string
    try {
      real = await realpath(link)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ELOOP') throw invalid(`${shown} in ${src} is a link that loops`)
      if (code === 'ENOENT') throw invalid(`${shown} in ${src} is a link to ${target}, which does not exist`)
      throw err
    }
    if (!isInside(real, root) && !(blobs !== null && path.dirname(real) === blobs)) {
      throw invalid(`${shown} in ${src} is a link to ${target}, outside the folder; Hearth copies only links to files inside the folder being imported`)
    }
    const info = await stat(real)
    if (info.isDirectory()) throw invalid(`${shown} in ${src} is a link to a folder; Hearth copies only links to files`)
    if (!info.isFile()) throw invalid(`${shown} in ${src} is a link to something that is not a regular file`)
    return { from: real, size: info.size }
  }

  async function walk(dir: string, rel: string[]): Promise<void> {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      if (NOT_COPIED.test(entry.name)) continue
      const full = path.join(dir, entry.name)
      const to = [...rel, entry.name]
      const shown = to.join('/')
      if (entry.isDirectory()) await walk(full, to)
      else if (entry.isFile()) plan.files.push({ from: full, to, size: (await lstat(full)).size })
      else if (entry.isSymbolicLink()) plan.files.push({ ...(await follow(full, shown)), to })
      else throw invalid(`${shown} in ${src} is not a regular file`)
    }
  }

  await walk(src, [])
  return plan
}

/** Copies the plan's files to dest through a temporary folder beside it, so dest appears whole or not at all. */
export async function copyModelFolder(plan: CopyPlan, dest: string, tmpRoot: string, io: DownloadIo): Promise<void> {
  const needed = plan.files.reduce((sum, f) => sum + f.size, 0)
  await mkdir(tmpRoot, { recursive: true })
  const free = await io.freeBytes(tmpRoot)
  if (free < needed) {
    throw new AppError('DISK_FULL', `Copying ${plan.src} needs ${formatBytes(needed)} and the models folder's disk has ${formatBytes(free)} free`)
  }
  const tmp = path.join(tmpRoot, randomUUID())
  try {
    for (const file of plan.files) {
      const to = path.join(tmp, ...file.to)
      await mkdir(path.dirname(to), { recursive: true })
      await copyFile(file.from, to, constants.COPYFILE_EXCL)
    }
    await mkdir(tmp, { recursive: true })
    await rename(tmp, dest)
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new AppError('DISK_FULL', `The disk filled up while copying ${plan.src}; nothing was imported`)
    }
    throw err
  }
}

/** The real path of the blobs folder when `root` is a Hugging Face cache snapshot, else null. */
async function snapshotBlobs(root: string): Promise<string | null> {
  const snapshots = path.dirname(root)
  const repo = path.dirname(snapshots)
  if (path.basename(snapshots) !== 'snapshots' || !path.basename(repo).startsWith('models--')) return null
  const blobs = path.join(repo, 'blobs')
  const info = await lstat(blobs).catch(() => null)
  return info?.isDirectory() ? blobs : null
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

function invalid(message: string): AppError {
  return new AppError('IMPORT_INVALID', message)
}
