// The main process's client of the engine process: spawns it on demand, speaks the protocol,
// reports a crash as ENGINE_CRASHED and brings the model back in a fresh engine on the next request.

import { AppError } from '../../src-shared/errors.ts'
import type { LoadedModelInfo } from '../../src-shared/types.ts'
import type {
  EngineInfo,
  EngineMessage,
  GenerateRequest,
  GenerateResult,
  HostMessage,
  LoadOptions,
  PrefillReport,
  RequestKind,
  Requests,
  Warmed,
} from '../model-format/protocol.ts'
import { forkSpawner, type EngineProcess, type Spawner } from './spawner.ts'

export interface EngineHostOptions {
  /** Default: forkSpawner() (Node child process of the engine's source entry). */
  spawn?: Spawner
  /** How long close() waits for the engine to persist its caches before killing it. */
  closeTimeoutMs?: number
}

interface Pending {
  kind: RequestKind
  resolve: (result: never) => void
  reject: (err: AppError) => void
  onToken?: (text: string) => void
  onPrefill?: (report: PrefillReport) => void
  conversationId?: string
}

/** A generate call not yet sent: it waits for the model to be loaded again after a crash. */
interface Waiting {
  conversationId: string | undefined
  cancelled: boolean
}

export class EngineHost {
  private readonly spawn: Spawner
  private readonly closeTimeoutMs: number
  private child: EngineProcess | null = null
  private pending = new Map<number, Pending>()
  /** Generate calls before their request exists, so that cancel reaches them too. */
  private waiting = new Set<Waiting>()
  private crashListeners = new Set<(error: AppError) => void>()
  /** close() is ending the process: its exit is no crash. */
  private closing = false
  private nextId = 1
  /** The last successful load, replayed into a fresh engine after a crash. */
  private loaded: { modelDir: string; options: LoadOptions; info: LoadedModelInfo } | null = null
  /** Set by a crash: the next generate first loads `loaded` into the new process. */
  private needsReload = false

  constructor(opts: EngineHostOptions = {}) {
    this.spawn = opts.spawn ?? forkSpawner()
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 10_000
  }

  /** The engine's process id while one runs (tests kill it to check crash handling). */
  get pid(): number | undefined {
    return this.child?.pid
  }

  async load(modelDir: string, options: LoadOptions = {}): Promise<LoadedModelInfo> {
    this.loaded = null
    this.needsReload = false
    const info = await this.request('load', { modelDir, options })
    this.loaded = { modelDir, options, info }
    return info
  }

  /**
   * Streams the reply's text through onToken, and a long prompt's prefill through onPrefill;
   * resolves when it ends (cancelled included).
   */
  async generate(
    request: GenerateRequest,
    onToken: (text: string) => void,
    onPrefill?: (report: PrefillReport) => void,
  ): Promise<GenerateResult> {
    const waiting: Waiting = { conversationId: request.conversationId, cancelled: false }
    this.waiting.add(waiting)
    try {
      await this.restore()
    } finally {
      this.waiting.delete(waiting)
    }
    // Stopped while the model was loaded again: the engine never hears of this request.
    if (waiting.cancelled) return cancelledBeforeStart(this.loaded?.info ?? null)
    return this.request('generate', { request }, { onToken, onPrefill, conversationId: request.conversationId })
  }

  /** Each text's tokens with the loaded model's tokenizer. */
  async countTokens(texts: string[]): Promise<number[]> {
    await this.restore()
    return this.request('count-tokens', { texts })
  }

  /** Cancels the generation of one conversation, or every generation when none is named. */
  cancel(conversationId?: string): void {
    for (const w of this.waiting) {
      if (conversationId === undefined || w.conversationId === conversationId) w.cancelled = true
    }
    for (const [id, p] of this.pending) {
      if (p.kind === 'generate' && (conversationId === undefined || p.conversationId === conversationId)) {
        this.child?.send({ type: 'cancel', id })
      }
    }
  }

  /** Calls `listener` when the engine process ends without close(); returns the unsubscribe. */
  onCrash(listener: (error: AppError) => void): () => void {
    this.crashListeners.add(listener)
    return () => this.crashListeners.delete(listener)
  }

  /** Reads the conversation's cache ahead of its next request; without a running engine, nothing. */
  async warmCache(conversationId: string): Promise<Warmed> {
    if (!this.child) return { from: 'none', reason: 'no-model' }
    return this.request('warm-cache', { conversationId })
  }

  async dropCache(conversationId: string): Promise<void> {
    if (!this.child) return
    await this.request('drop-cache', { conversationId })
  }

  /** What the engine holds; without a running engine, nothing (no process is started for it). */
  async info(): Promise<EngineInfo> {
    if (!this.child) return { model: null, caches: [], kvBytes: 0, kvBudgetBytes: 0 }
    return this.request('info', {})
  }

  /** Persists the caches (when snapshots are on) and frees the model; the process stays. */
  async unload(): Promise<void> {
    this.loaded = null
    if (!this.child) return
    await this.request('unload', {})
  }

  /**
   * Unloads, which persists the caches (bounded by closeTimeoutMs), and ends the engine process;
   * a generation still running then fails with ENGINE_CRASHED.
   */
  async close(): Promise<void> {
    const child = this.child
    if (!child) return
    this.loaded = null
    this.closing = true
    try {
      this.cancel()
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.closeTimeoutMs).unref())
      await Promise.race([this.request('unload', {}).catch(() => undefined), timeout])
      if (this.child === child) {
        const exited = new Promise<void>((resolve) => child.onExit(() => resolve()))
        child.kill()
        await exited
      }
    } finally {
      this.closing = false
    }
  }

  /** After a crash the new process gets the last model again before any other request. */
  private async restore(): Promise<void> {
    if (!this.needsReload || !this.loaded) return
    this.needsReload = false
    const { modelDir, options } = this.loaded
    try {
      await this.request('load', { modelDir, options })
    } catch (err) {
      this.loaded = null
      throw err
    }
  }

  private request<K extends RequestKind>(
    kind: K,
    args: Requests[K]['args'],
    listeners: Pick<Pending, 'onToken' | 'onPrefill' | 'conversationId'> = {},
  ): Promise<Requests[K]['result']> {
    const child = this.ensureChild()
    const id = this.nextId++
    return new Promise<Requests[K]['result']>((resolve, reject) => {
      this.pending.set(id, { kind, resolve: resolve as (r: never) => void, reject, ...listeners })
      child.send({ type: kind, id, ...args } as HostMessage)
    })
  }

  private ensureChild(): EngineProcess {
    if (this.child) return this.child
    const child = this.spawn()
    this.child = child
    child.onMessage((m) => this.receive(m))
    child.onExit((code, signal) => {
      if (this.child !== child) return
      this.child = null
      this.needsReload = this.loaded !== null
      const how = signal ? `signal ${signal}` : `exit code ${code}`
      const error = this.closing
        ? new AppError('ENGINE_CRASHED', 'Hearth closed while the engine was still working, so the engine was stopped.')
        : new AppError(
            'ENGINE_CRASHED',
            `The engine process stopped unexpectedly (${how}); the model will be loaded again on the next request.`,
          )
      const pending = [...this.pending.values()]
      this.pending.clear()
      for (const p of pending) p.reject(error)
      if (!this.closing) for (const listener of [...this.crashListeners]) listener(error)
    })
    return child
  }

  private receive(message: EngineMessage): void {
    const p = this.pending.get(message.id)
    if (!p) return
    if (message.type === 'token') {
      p.onToken?.(message.text)
      return
    }
    if (message.type === 'progress') {
      p.onPrefill?.({ done: message.done, total: message.total, tokensPerSecond: message.tokensPerSecond })
      return
    }
    this.pending.delete(message.id)
    if (message.type === 'done') p.resolve(message.result as never)
    else p.reject(AppError.fromData(message.error))
  }
}

/** The result of a generation cancelled before its request went to the engine. */
function cancelledBeforeStart(info: LoadedModelInfo | null): GenerateResult {
  return {
    text: '',
    tokens: [],
    stats: {
      promptTokens: 0,
      reusedTokens: 0,
      prefillMs: 0,
      prefillTokensPerSecond: 0,
      ttftMs: 0,
      decodeTokensPerSecond: 0,
      generatedTokens: 0,
      stopReason: 'cancelled',
      provider: info?.provider ?? 'cpu',
    },
  }
}
