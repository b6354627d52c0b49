// Where a chat's replies come from: this computer's engine or a remote provider, behind one port
// and chosen once per generation by the model's id.

import type { Conversation, RemoteModelId, ReplyPhase } from '../../src-shared/types.ts'
import { isRemoteModelId, type RemoteProviders } from '../remote/remote-providers.ts'
import type { Measure } from './documents.ts'
import type { EnginePort, EngineRequest, EngineResult, PrefillReport } from './engine-port.ts'
import type { ModelService } from './model-service.ts'

/** A generation as its generator sees it. */
export interface GeneratorRun {
  readonly conversationId: string
  readonly modelId: string
  /** A chat's messages, its tools' calls and results among them, and the tools it offers. */
  readonly request: EngineRequest
  /** Set by stop: a generation stopped while it waits is given to no model. */
  readonly cancelled: boolean
  /** Set by the generator just before the request goes out: from then on only `cancel` can stop it. */
  started: boolean
}

export interface Generator {
  /** Why a reply cannot be carried on from its text (`continueLast`); null when it can. */
  readonly continueRefusal: string | null
  /** Its replies wait their turn for the one engine: each is queued until `generate` reports a phase. */
  readonly queues: boolean
  /** The model the conversation runs on, checked before anything is written. */
  resolve(conversation: Conversation): Promise<string>
  /**
   * Resolves when the reply ends, also when cancelled; null when stopped before the request went
   * out. The engine reports a long prefill through onPrefill; a remote provider never does.
   */
  generate(run: GeneratorRun, hooks: GenerateHooks): Promise<EngineResult | null>
  /** Asks the conversation's generation to stop; `generate` then resolves. */
  cancel(conversationId: string): void
  /** Token counts of texts with the model (loaded first), and its context: what documents are sized by. */
  measure(modelId: string, texts: string[]): Promise<Measure>
}

export interface GenerateHooks {
  onToken: (text: string) => void
  onPrefill?: (report: PrefillReport) => void
  /** The reply's turn came and its model loads ('loading'); it is sent ('prefilling'). */
  onPhase?: (phase: Extract<ReplyPhase, 'loading' | 'prefilling'>) => void
}

/** A remote model's context is not known: documents are sized against this many tokens, as estimates. */
const REMOTE_CONTEXT = 8192

export interface GeneratorDeps {
  engine: EnginePort
  models: ModelService
  remote: RemoteProviders
}

/** The generator for a conversation's model id: a remote one's provider, else the engine (also for null). */
export type GeneratorFor = (modelId: string | null) => Generator

export function generators(deps: GeneratorDeps): GeneratorFor {
  const local = localGenerator(deps.engine, deps.models)
  return (modelId) => (isRemoteModelId(modelId) ? remoteGenerator(deps.remote, modelId) : local)
}

/** The engine runs one generation at a time, under the same lock as loading its model. */
function localGenerator(engine: EnginePort, models: ModelService): Generator {
  return {
    continueRefusal: null,
    queues: true,
    resolve: async (conversation) => (await models.resolve(conversation)).id,
    generate: (run, { onToken, onPrefill, onPhase }) =>
      models.exclusive(async () => {
        if (run.cancelled) return null
        const { state, modelId } = models.status()
        if (state !== 'loaded' || modelId !== run.modelId) onPhase?.('loading')
        await models.ensureLoaded(run.modelId)
        if (run.cancelled) return null
        run.started = true
        onPhase?.('prefilling')
        return engine.generate(run.request, onToken, onPrefill)
      }),
    cancel: (conversationId) => engine.cancel(conversationId),
    measure: (modelId, texts) =>
      models.exclusive(async () => {
        const info = await models.ensureLoaded(modelId)
        return { counts: await engine.countTokens(texts), contextLength: info.contextLength, estimated: false }
      }),
  }
}

/** A remote reply needs nothing of the engine, so it does not wait for its lock. */
function remoteGenerator(remote: RemoteProviders, modelId: RemoteModelId): Generator {
  return {
    continueRefusal: "A remote provider's model cannot carry on a reply from its text. Regenerate the reply instead.",
    queues: false,
    // A remote model needs no local one, only its provider still in the list.
    async resolve() {
      await remote.resolve(modelId)
      return modelId
    },
    async generate(run, { onToken, onPhase }) {
      if (run.cancelled) return null
      run.started = true
      onPhase?.('prefilling')
      const { messages, params, tools } = run.request
      return remote.generate(modelId, run.conversationId, messages, params, onToken, tools)
    },
    cancel: (conversationId) => remote.cancel(conversationId),
    // No tokenizer here: about four characters a token.
    measure: async (_modelId, texts) => ({ counts: texts.map((t) => Math.ceil(t.length / 4)), contextLength: REMOTE_CONTEXT, estimated: true }),
  }
}
