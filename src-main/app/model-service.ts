// The engine's model: which one a conversation uses, loading and unloading it, its status for
// the UI, and the one lock every engine operation takes so that only one runs at a time.

import { AppError } from '../../src-shared/errors.ts'
import type {
  Conversation,
  LoadedModelInfo,
  ModelLoadSettings,
  ModelStatus,
  ModelSummary,
  ProviderName,
  Settings,
  VariantName,
} from '../../src-shared/types.ts'
import { defaultProviders, defaultThreads } from '../model-format/provider-defaults.ts'
import { createIdleUnloader, type IdleUnloader } from '../models/idle-unload.ts'
import type { ModelLibrary } from '../models/library.ts'
import type { EnginePort } from './engine-port.ts'
import type { EventHub } from './events.ts'

export interface ModelServiceDeps {
  library: ModelLibrary
  engine: EnginePort
  events: EventHub
  settings: () => Settings
  /** Where the engine writes KV caches it evicts or holds at unload. */
  snapshotDir: string
  /** Disk bytes those snapshots may take. */
  snapshotBudgetBytes: number
}

const UNLOADED: ModelStatus = { state: 'unloaded', modelId: null, info: null, error: null }

export class ModelService {
  readonly #deps: ModelServiceDeps
  readonly #idle: IdleUnloader
  #status: ModelStatus = UNLOADED
  /** The draft model id asked for when the loaded model was loaded; a change in Settings reloads it. */
  #loadedDraft: string | null = null
  /** Tail of the chain every engine operation waits on. */
  #lock: Promise<unknown> = Promise.resolve()
  /** Engine operations running or waiting for the lock. */
  #queued = 0
  readonly #offCrash: () => void

  constructor(deps: ModelServiceDeps) {
    this.#deps = deps
    this.#idle = createIdleUnloader({
      idleMs: idleMs(deps.settings()),
      onIdle: () => this.exclusive(() => this.#unload()).catch(() => undefined),
    })
    // Also a crash while idle or under the API server: the next use loads the model again.
    this.#offCrash = deps.engine.onCrash((error) => this.engineCrashed(error.message))
  }

  status(): ModelStatus {
    return structuredClone(this.#status)
  }

  /** Runs `fn` when no other engine operation is running; operations run in call order. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.#queued++
    const run = this.#lock.then(fn, fn)
    this.#lock = run.catch(() => undefined)
    // Beside the chain, not in it: callers see `run` settle when it would without the count.
    const settled = (): void => void this.#queued--
    run.then(settled, settled)
    return run
  }

  /** Whether an engine operation runs or waits: one asked now would wait for it (a whole reply, a load). */
  get busy(): boolean {
    return this.#queued > 0
  }

  /** Marks a generation as use the idle timer must not cut; call the result when it ends. */
  beginUse(): () => void {
    return this.#idle.begin()
  }

  /**
   * Adopts changed settings. A different draft model for the loaded model reloads it (after any
   * running generation); resolves when that reload ends, whether it worked or not (the status says).
   */
  async settingsChanged(settings: Settings): Promise<void> {
    this.#idle.setIdleMs(idleMs(settings))
    const { state, modelId, info } = this.#status
    if (state !== 'loaded' || modelId === null || info === null) return
    if ((settings.draftModels[modelId] ?? null) === this.#loadedDraft) return
    await this.exclusive(async () => {
      // Another load or unload may have run while this waited for the lock.
      if (this.#status.state !== 'loaded' || this.#status.modelId !== modelId) return
      if ((this.#deps.settings().draftModels[modelId] ?? null) === this.#loadedDraft) return
      await this.#load(modelId, info.variant)
    }).catch(() => undefined)
  }

  /**
   * The model a conversation runs on: its own, else the default, else the loaded one, else the
   * only valid model there is. Throws when none can be chosen or the chosen one cannot run.
   */
  async resolve(conversation: Pick<Conversation, 'modelId'>): Promise<Extract<ModelSummary, { valid: true }>> {
    const chosen = conversation.modelId ?? this.#deps.settings().defaultModelId ?? this.#status.modelId
    if (chosen !== null) {
      const summary = await this.#deps.library.get(chosen).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'NOT_FOUND') {
          throw new AppError('NOT_FOUND', `The model "${chosen}" is not in the models folder any more. Choose another one for this chat.`)
        }
        throw err
      })
      if (!summary.valid) throw new AppError('MODEL_INVALID', `The model "${chosen}" cannot be run: ${summary.reason}`)
      return summary
    }
    const valid = (await this.#deps.library.list()).filter((m) => m.valid)
    if (valid.length === 1 && valid[0]?.valid) return valid[0]
    throw new AppError(
      'MODEL_NOT_LOADED',
      valid.length === 0
        ? `There is no model yet. Put a model folder in ${this.#deps.library.modelsDir} or download one.`
        : 'No model is chosen for this chat. Pick one in the chat header or set a default model in Settings.',
    )
  }

  /** Whether the conversation's next reply runs on the model loaded now (chosen as `resolve` chooses). */
  runsOnLoaded(conversation: Conversation): boolean {
    const { state, modelId } = this.#status
    if (state !== 'loaded' || modelId === null) return false
    return (conversation.modelId ?? this.#deps.settings().defaultModelId ?? modelId) === modelId
  }

  /** Loads the model unless it is the one loaded; call inside `exclusive`. A `variant` given wins over the model's load settings. */
  async ensureLoaded(modelId: string, variant?: VariantName): Promise<LoadedModelInfo> {
    const { state, info } = this.#status
    if (state === 'loaded' && info !== null && this.#status.modelId === modelId && (variant === undefined || info.variant === variant)) {
      this.#idle.touch()
      return info
    }
    return this.#load(modelId, variant)
  }

  load(modelId: string, variant?: VariantName): Promise<LoadedModelInfo> {
    return this.exclusive(() => this.#load(modelId, variant))
  }

  unload(): Promise<void> {
    return this.exclusive(() => this.#unload())
  }

  /** The engine process died: whatever it held is gone, the next use loads again. */
  engineCrashed(message: string): void {
    const { state, error } = this.#status
    if (state === 'unloaded' || (state === 'error' && error?.code === 'ENGINE_CRASHED')) return
    this.#setStatus({ state: 'error', modelId: this.#status.modelId, info: null, error: { code: 'ENGINE_CRASHED', message } })
  }

  dispose(): void {
    this.#offCrash()
    this.#idle.dispose()
  }

  async #load(modelId: string, variant?: VariantName): Promise<LoadedModelInfo> {
    const summary = await this.#deps.library.get(modelId)
    if (!summary.valid) throw new AppError('MODEL_INVALID', `The model "${modelId}" cannot be run: ${summary.reason}`)
    const settings = this.#deps.settings()
    const draftId = settings.draftModels[modelId] ?? null
    const own = applicableLoadSettings(summary, settings.modelLoadSettings[modelId])
    const chosen = variant ?? own.variant
    this.#setStatus({ state: 'loading', modelId, info: null, error: null })
    try {
      const draft = await this.#draftDir(draftId)
      const loaded = await this.#deps.engine.load(summary.dir, {
        providers: providerOrder(own.provider ?? settings.providerPreference),
        threads: own.threads ?? settings.threads ?? defaultThreads(),
        snapshotDir: this.#deps.snapshotDir,
        snapshotBudgetBytes: this.#deps.snapshotBudgetBytes,
        ...(chosen === undefined ? {} : { variant: chosen }),
        ...(own.contextLength === undefined ? {} : { contextLength: own.contextLength }),
        ...(own.kvDtype === undefined ? {} : { kvDtype: own.kvDtype }),
        ...(own.int8Activations === undefined ? {} : { int8Activations: own.int8Activations }),
        ...(settings.kvCacheBudgetBytes === null ? {} : { kvBudgetBytes: settings.kvCacheBudgetBytes }),
        ...('dir' in draft ? { draftModelDir: draft.dir } : {}),
      })
      // The engine explains a draft it tried and refused; one it was never given is explained here.
      const info: LoadedModelInfo =
        'error' in draft ? { ...loaded, speculation: { ...loaded.speculation, draftModelId: null, draftModelError: draft.error } } : loaded
      this.#loadedDraft = draftId
      this.#setStatus({ state: 'loaded', modelId, info, error: null })
      this.#idle.touch()
      return info
    } catch (err) {
      this.#setStatus({ state: 'error', modelId, info: null, error: AppError.toData(err) })
      throw err
    }
  }

  /** The chosen draft model's folder, resolved as a model's is; why not, when it cannot run. */
  async #draftDir(draftId: string | null): Promise<{ dir: string } | { error: string } | { none: true }> {
    if (draftId === null) return { none: true }
    const summary = await this.#deps.library.get(draftId).catch((err: unknown) => {
      if (err instanceof AppError && (err.code === 'NOT_FOUND' || err.code === 'BAD_REQUEST')) return null
      throw err
    })
    if (summary === null) return { error: `The draft model "${draftId}" is not in the models folder any more. Choose another one in Settings → Models.` }
    if (!summary.valid) return { error: `The draft model "${draftId}" cannot be run: ${summary.reason}` }
    return { dir: summary.dir }
  }

  async #unload(): Promise<void> {
    if (this.#status.state === 'unloaded') return
    await this.#deps.engine.unload()
    this.#loadedDraft = null
    this.#setStatus(UNLOADED)
  }

  #setStatus(status: ModelStatus): void {
    this.#status = status
    this.#deps.events.emit('modelStatus', structuredClone(status))
  }
}

/**
 * A model's load settings as they can apply to its folder now: the context at most the model's
 * own (the store cannot know it), a variant only while the folder has it (one removed since is
 * chosen automatically again).
 */
export function applicableLoadSettings(summary: Extract<ModelSummary, { valid: true }>, wanted: ModelLoadSettings | undefined): ModelLoadSettings {
  const { contextLength, variant, ...rest } = wanted ?? {}
  return {
    ...rest,
    ...(contextLength === undefined ? {} : { contextLength: Math.min(contextLength, summary.contextLength) }),
    ...(variant !== undefined && summary.variants.some((v) => v.name === variant) ? { variant } : {}),
  }
}

/** The context a model runs with under its load settings: what the chat measures against before it is loaded. */
export function contextLengthOf(summary: Extract<ModelSummary, { valid: true }>, settings: Settings): number {
  return applicableLoadSettings(summary, settings.modelLoadSettings[summary.id]).contextLength ?? summary.contextLength
}

/** 'auto': the platform's order; a named provider first, then the CPU, which always exists. */
export function providerOrder(preference: Settings['providerPreference']): ProviderName[] {
  if (preference === 'auto') return defaultProviders()
  return preference === 'cpu' ? ['cpu'] : [preference, 'cpu']
}

function idleMs(settings: Settings): number | null {
  return settings.idleUnloadMinutes > 0 ? settings.idleUnloadMinutes * 60_000 : null
}
