// Main's side of a GGUF conversion: starts convert-main.ts in a process of its own, reports its
// progress, and ends it at once when the import is cancelled.

import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { AppError, type ErrorData } from '../../../src-shared/errors.ts'
import type { ConversionInfo } from '../../../src-shared/types.ts'
import { forkChild, type ChildPort } from '../../engine-host/spawner.ts'
import type { WeightPrecision } from './weight-source.ts'

export interface ConversionRequest {
  file: string
  outDir: string
  precision: WeightPrecision
  sourceName?: string | undefined
}

export type ConversionMessage =
  | { type: 'progress'; done: number; total: number }
  | { type: 'done'; info: ConversionInfo }
  | { type: 'error'; error: ErrorData }

/** Starts the conversion process from its entry: forkChild, or Electron's utilityProcess. */
export type ConversionSpawner = (entry: string) => ChildPort<ConversionRequest, ConversionMessage>

export interface RunConversionOptions {
  precision?: WeightPrecision
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
  /** What the model info and errors call the file; default its name. */
  sourceName?: string | undefined
  /** The process entry: a built .js file, or the .ts source (run through tsx). Default: the source. */
  entry?: string
  /** Default: forkChild. */
  spawn?: ConversionSpawner
}

const SOURCE_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'convert-main.ts')

/** Converts `file` into the folder `outDir`; rejects with the conversion's error, or CANCELLED. */
export function runConversion(file: string, outDir: string, opts: RunConversionOptions = {}): Promise<ConversionInfo> {
  const entry = opts.entry ?? SOURCE_ENTRY
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new AppError('CANCELLED', 'The import was cancelled'))
      return
    }
    const spawn: ConversionSpawner = opts.spawn ?? ((e) => forkChild<ConversionRequest, ConversionMessage>(e))
    const child = spawn(entry)
    let settled = false
    let cancelled = false
    const finish = (outcome: () => void): void => {
      if (settled) return
      settled = true
      opts.signal?.removeEventListener('abort', abort)
      // One conversion per process: once it has answered, it would only sit idle until Hearth quits.
      child.kill()
      outcome()
    }
    // Rejected only once the process has exited: a file it was still writing must not appear
    // after the caller has removed the output folder.
    const abort = (): void => {
      cancelled = true
      child.kill()
    }
    opts.signal?.addEventListener('abort', abort, { once: true })
    child.onMessage((message) => {
      if (cancelled) return
      if (message.type === 'progress') opts.onProgress?.(message.done, message.total)
      else if (message.type === 'done') finish(() => resolve(message.info))
      else finish(() => reject(AppError.fromData(message.error)))
    })
    child.onExit((code, signal) => {
      if (cancelled) finish(() => reject(new AppError('CANCELLED', 'The import was cancelled')))
      else finish(() => reject(new AppError('INTERNAL', `The conversion ended before it finished (${signal ?? `exit code ${code}`})`)))
    })
    child.send({ file, outDir, precision: opts.precision ?? 'source', sourceName: opts.sourceName } satisfies ConversionRequest)
  })
}
