// Download queue: one job at a time, progress events with rate and time left, cancel.

import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { AppError } from '../../src-shared/errors.ts'
import type { DownloadProgress, ModelSummary, VariantName } from '../../src-shared/types.ts'
import { forgetPlan, modelIdForRepo, planDownload, runDownload, stagingPath, type JobContext } from './download-job.ts'
import type { DownloadIo } from './file-download.ts'
import { checkRepoId, type HubClient } from './hub.ts'
import { RateMeter } from './rate-meter.ts'

export interface DownloadRequest {
  repo: string
  variant: VariantName
  /** Branch, tag or commit; defaults to 'main'. */
  revision?: string | undefined
}

export interface QueueDeps {
  hub: HubClient
  io: DownloadIo
  modelsDir: string
  inspect(dir: string): Promise<ModelSummary>
  now(): number
  /** Least time between two progress events of a running job (state changes always go out). */
  progressIntervalMs: number
  fileOptions?: JobContext['fileOptions']
  onInstalled(model: ModelSummary): void
}

interface Job {
  progress: DownloadProgress
  revision: string
  controller: AbortController
  keepPartial: boolean
  settled: Promise<DownloadProgress>
  settle(progress: DownloadProgress): void
}

const FINISHED = new Set(['done', 'failed', 'cancelled'])

export class DownloadQueue {
  private readonly jobs = new Map<string, Job>()
  private readonly listeners = new Set<(progress: DownloadProgress) => void>()
  private running = false

  constructor(private readonly deps: QueueDeps) {}

  /** Queues a download; the same repository and variant while unfinished returns the same job. */
  enqueue(request: DownloadRequest): DownloadProgress {
    checkRepoId(request.repo)
    const revision = request.revision ?? 'main'
    for (const job of this.jobs.values()) {
      const p = job.progress
      if (p.repo === request.repo && p.variant === request.variant && !FINISHED.has(p.state)) return { ...p }
    }
    let settle!: (progress: DownloadProgress) => void
    const settled = new Promise<DownloadProgress>((resolve) => (settle = resolve))
    const job: Job = {
      progress: {
        jobId: randomUUID(),
        repo: request.repo,
        variant: request.variant,
        modelId: modelIdForRepo(request.repo),
        state: 'queued',
        file: null,
        bytesDone: 0,
        bytesTotal: 0,
        bytesPerSecond: 0,
        etaSeconds: null,
        error: null,
      },
      revision,
      controller: new AbortController(),
      keepPartial: false,
      settled,
      settle,
    }
    this.jobs.set(job.progress.jobId, job)
    this.emit(job)
    void this.pump()
    return { ...job.progress }
  }

  /**
   * Stops a queued or running job. Without keepPartial its staged files are deleted; with it they
   * stay, and enqueueing the same download later resumes from them. Resolves once it has stopped.
   */
  async cancel(jobId: string, options: { keepPartial?: boolean } = {}): Promise<DownloadProgress> {
    const job = this.jobs.get(jobId)
    if (!job) throw new AppError('NOT_FOUND', `No download with id ${jobId}`)
    if (FINISHED.has(job.progress.state)) return { ...job.progress }
    job.keepPartial = options.keepPartial ?? false
    job.controller.abort()
    if (job.progress.state === 'queued') await this.finishCancelled(job)
    return job.settled
  }

  /** Every job this session, oldest first, finished ones included until dismissed. */
  list(): DownloadProgress[] {
    return [...this.jobs.values()].map((j) => ({ ...j.progress }))
  }

  /** Forgets a finished job. */
  dismiss(jobId: string): void {
    const job = this.jobs.get(jobId)
    if (job && FINISHED.has(job.progress.state)) this.jobs.delete(jobId)
  }

  /** Resolves when the job is done, failed or cancelled. */
  settled(jobId: string): Promise<DownloadProgress> {
    const job = this.jobs.get(jobId)
    if (!job) return Promise.reject(new AppError('NOT_FOUND', `No download with id ${jobId}`))
    return job.settled
  }

  on(listener: (progress: DownloadProgress) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private async pump(): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      for (;;) {
        const next = [...this.jobs.values()].find((j) => j.progress.state === 'queued')
        if (!next) return
        await this.run(next)
      }
    } finally {
      this.running = false
    }
  }

  private async run(job: Job): Promise<void> {
    const { deps } = this
    const p = job.progress
    const meter = new RateMeter()
    let transferred = 0
    let lastEmit = 0
    const update = (changes: Partial<DownloadProgress>, force: boolean): void => {
      Object.assign(p, changes)
      const now = deps.now()
      if (force || now - lastEmit >= deps.progressIntervalMs) {
        lastEmit = now
        this.emit(job)
      }
    }
    update({ state: 'downloading' }, true)
    try {
      const plan = await planDownload(
        deps.hub,
        deps.modelsDir,
        { repo: p.repo, revision: job.revision, variant: p.variant },
        job.controller.signal,
      )
      update({ bytesTotal: plan.files.reduce((sum, f) => sum + f.size, 0) }, true)
      const model = await runDownload(plan, {
        hub: deps.hub,
        io: deps.io,
        modelsDir: deps.modelsDir,
        inspect: deps.inspect,
        signal: job.controller.signal,
        fileOptions: deps.fileOptions,
        onFile: (file) => update({ file }, true),
        onVerifying: () => update({ state: 'verifying', file: null, bytesPerSecond: 0, etaSeconds: 0 }, true),
        onExisting: (bytes) => update({ bytesDone: p.bytesDone + bytes }, false),
        onBytes: (delta) => {
          // The rate counts bytes that crossed the network, not those found on disk at a resume.
          transferred += Math.max(0, delta)
          meter.sample(deps.now(), transferred)
          const bytesDone = p.bytesDone + delta
          update(
            {
              bytesDone,
              bytesPerSecond: Math.round(meter.bytesPerSecond()),
              etaSeconds: meter.etaSeconds(p.bytesTotal - bytesDone),
            },
            false,
          )
        },
      })
      update({ state: 'done', file: null, bytesDone: p.bytesTotal, bytesPerSecond: 0, etaSeconds: 0 }, true)
      deps.onInstalled(model)
      job.settle({ ...p })
    } catch (err) {
      if (job.controller.signal.aborted) {
        await this.finishCancelled(job)
      } else {
        const error = AppError.toData(err)
        if (error.code === 'NOT_FOUND') await forgetPlan(deps.modelsDir, p.modelId, p.variant)
        update({ state: 'failed', bytesPerSecond: 0, etaSeconds: null, error }, true)
        job.settle({ ...p })
      }
    }
  }

  private async finishCancelled(job: Job): Promise<void> {
    if (job.progress.state === 'cancelled') return
    const p = job.progress
    if (!job.keepPartial) {
      await rm(stagingPath(this.deps.modelsDir, p.modelId, p.variant), { recursive: true, force: true })
    }
    Object.assign(p, { state: 'cancelled', file: null, bytesPerSecond: 0, etaSeconds: null })
    this.emit(job)
    job.settle({ ...p })
  }

  private emit(job: Job): void {
    const snapshot = { ...job.progress }
    for (const listener of this.listeners) listener(snapshot)
  }
}
