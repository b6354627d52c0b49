// One model download: pin a commit, stage the variant's files, verify, then move them into place.
//
// [TAG_STAGING] Files download into <modelsDir>/.downloads/<modelId>@<variant>/ (a dot folder the
// library never lists), beside plan.json, which pins the commit so a resume after a restart asks
// for the same bytes. Only when every file is verified and the staged folder inspects as a valid
// model do the files move into <modelsDir>/<modelId>/, external data first and the .onnx last, so a
// variant is visible only once all of it is there.

import { lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../src-shared/errors.ts'
import type { ModelSummary, PartialDownload, VariantName } from '../../src-shared/types.ts'
import { diskFull, downloadFile, type DownloadIo, type FileDownload } from './file-download.ts'
import { formatBytes } from './format.ts'
import type { HubClient, HubFile } from './hub.ts'
import { filesForVariant } from './repo-files.ts'
import { checkFolderOwner, claimFolder, modelIdForRepo } from './repo-folder.ts'

export { modelIdForRepo }

export const STAGING_DIR = '.downloads'
/** Room left free beyond the download itself, for the database, logs and the OS. */
const DISK_HEADROOM = 64 * 1024 * 1024

export interface DownloadPlan {
  repo: string
  revision: string
  commit: string
  variant: VariantName
  modelId: string
  files: HubFile[]
}

export interface JobContext {
  hub: HubClient
  io: DownloadIo
  modelsDir: string
  inspect(dir: string): Promise<ModelSummary>
  signal: AbortSignal
  onBytes(delta: number): void
  onExisting(bytes: number): void
  onFile(file: string): void
  onVerifying(): void
  fileOptions?: Pick<FileDownload, 'retries' | 'retryDelayMs' | 'stallMs'>
}

export function stagingPath(modelsDir: string, modelId: string, variant: VariantName): string {
  return path.join(modelsDir, STAGING_DIR, `${modelId}@${variant}`)
}

/**
 * The pinned plan of an interrupted download of the same request, else a fresh one from the hub.
 * `signal` cancels the hub requests, each of which also times out on its own.
 */
export async function planDownload(
  hub: HubClient,
  modelsDir: string,
  request: { repo: string; revision: string; variant: VariantName },
  signal?: AbortSignal,
): Promise<DownloadPlan> {
  const modelId = modelIdForRepo(request.repo)
  const dir = stagingPath(modelsDir, modelId, request.variant)
  const pinned = await readPlan(dir)
  // A plan staged under the folder naming before [TAG_REPO_FOLDER] names another model id.
  if (pinned && pinned.repo === request.repo && pinned.revision === request.revision && pinned.modelId === modelId) return pinned

  const commit = await hub.resolveCommit(request.repo, request.revision, signal)
  const listing = await hub.listFiles(request.repo, commit, signal)
  const plan: DownloadPlan = {
    ...request,
    commit,
    modelId,
    files: filesForVariant(request.repo, listing, request.variant),
  }
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  await writeFile(path.join(dir, 'plan.json.tmp'), JSON.stringify(plan, null, 2))
  await rename(path.join(dir, 'plan.json.tmp'), path.join(dir, 'plan.json'))
  return plan
}

/**
 * Drops a pinned plan so the next attempt asks the hub again, e.g. after its commit vanished
 * (404). Staged parts stay: their sidecars decide whether they still match the new listing.
 */
export async function forgetPlan(modelsDir: string, modelId: string, variant: VariantName): Promise<void> {
  await rm(path.join(stagingPath(modelsDir, modelId, variant), 'plan.json'), { force: true })
}

/** Downloads and installs the plan; resolves with the installed model as the library lists it. */
export async function runDownload(plan: DownloadPlan, ctx: JobContext): Promise<ModelSummary> {
  const staging = stagingPath(ctx.modelsDir, plan.modelId, plan.variant)
  const finalDir = path.join(ctx.modelsDir, plan.modelId)
  const existing = await lstat(finalDir).catch(() => null)
  if (existing && !existing.isDirectory()) {
    throw new AppError('CONFLICT', `${finalDir} is a link to an imported folder; Hearth will not download into it`)
  }
  await checkFolderOwner(finalDir, plan.repo)

  const needed = await bytesStillNeeded(plan, staging)
  const free = await ctx.io.freeBytes(ctx.modelsDir)
  if (free < needed + DISK_HEADROOM) {
    throw new AppError(
      'DISK_FULL',
      `Not enough disk space for ${plan.repo} (${plan.variant}): it needs ${formatBytes(needed)} more and ${ctx.modelsDir} has ${formatBytes(free)} free`,
    )
  }

  for (const file of plan.files) {
    ctx.onFile(file.path)
    const target = path.join(staging, ...file.path.split('/'))
    await mkdir(path.dirname(target), { recursive: true })
    await downloadFile({
      url: ctx.hub.fileUrl(plan.repo, plan.commit, file.path),
      file,
      target,
      request: ctx.hub.request,
      io: ctx.io,
      signal: ctx.signal,
      onBytes: ctx.onBytes,
      onExisting: ctx.onExisting,
      ...ctx.fileOptions,
    })
  }

  ctx.onVerifying()
  const staged = await ctx.inspect(staging)
  if (!staged.valid) {
    await rm(staging, { recursive: true, force: true })
    throw new AppError('MODEL_INVALID', `${plan.repo} downloaded and verified, but cannot be run: ${staged.reason}`)
  }
  try {
    await claimFolder(finalDir, plan.repo)
    await install(plan, staging, finalDir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw diskFull(finalDir)
    throw err
  }
  await rm(staging, { recursive: true, force: true })
  return ctx.inspect(finalDir)
}

/** Interrupted downloads found in the staging folder, with how far each got. */
export async function listPartialDownloads(modelsDir: string): Promise<PartialDownload[]> {
  const root = path.join(modelsDir, STAGING_DIR)
  const names = await readdir(root).catch(() => [] as string[])
  const partials: PartialDownload[] = []
  for (const name of names) {
    const dir = path.join(root, name)
    const plan = await readPlan(dir)
    if (!plan) continue
    const bytesTotal = plan.files.reduce((sum, f) => sum + f.size, 0)
    partials.push({
      repo: plan.repo,
      revision: plan.revision,
      variant: plan.variant,
      modelId: plan.modelId,
      bytesDone: bytesTotal - (await bytesStillNeeded(plan, dir)),
      bytesTotal,
    })
  }
  return partials
}

/** Metadata first, then each variant file's external data before the .onnx that refers to it. */
async function install(plan: DownloadPlan, staging: string, finalDir: string): Promise<void> {
  const order = [...plan.files].sort((a, b) => installRank(a.path) - installRank(b.path))
  for (const file of order) {
    const to = path.join(finalDir, ...file.path.split('/'))
    await mkdir(path.dirname(to), { recursive: true })
    await rename(path.join(staging, ...file.path.split('/')), to)
  }
}

function installRank(file: string): number {
  if (file.endsWith('.onnx')) return 2
  return /\.onnx(_data(_\d+)?|\.data)$/.test(file) ? 1 : 0
}

/** A target that exists is verified and a part is a prefix of it [TAG_PART_FILES], so sizes tell. */
async function bytesStillNeeded(plan: DownloadPlan, staging: string): Promise<number> {
  let needed = 0
  for (const file of plan.files) {
    const target = path.join(staging, ...file.path.split('/'))
    const done = await stat(target).catch(() => null)
    if (done?.size === file.size) continue
    const part = await stat(`${target}.part`).catch(() => null)
    needed += file.size - Math.min(part?.size ?? 0, file.size)
  }
  return needed
}

async function readPlan(dir: string): Promise<DownloadPlan | null> {
  try {
    const value = JSON.parse(await readFile(path.join(dir, 'plan.json'), 'utf8')) as DownloadPlan
    const ok =
      typeof value.repo === 'string' &&
      typeof value.revision === 'string' &&
      typeof value.commit === 'string' &&
      typeof value.modelId === 'string' &&
      typeof value.variant === 'string' &&
      Array.isArray(value.files)
    return ok ? value : null
  } catch {
    return null
  }
}
