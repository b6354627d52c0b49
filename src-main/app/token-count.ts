// The composer's live count: a message being written, with its documents, in tokens, and the
// context it leaves. The model's own tokenizer only when that costs no wait: the engine runs one
// request at a time, so a count asked while a reply is written or a model loads would wait for
// all of it, and a count must never load a model. Then (and for a remote model) it is an estimate.

import type { Conversation, Message, NewConversation, Settings, TokenCount } from '../../src-shared/types.ts'
import { isRemoteModelId } from '../remote/remote-providers.ts'
import type { Store } from '../store/store.ts'
import { TEMPLATE_TOKENS_PER_MESSAGE, type DocumentService } from './documents.ts'
import type { EnginePort } from './engine-port.ts'
import { contextLengthOf, type ModelService } from './model-service.ts'

export interface TokenCounterDeps {
  store: Store
  models: ModelService
  engine: EnginePort
  documents: DocumentService
  settings: () => Settings
}

/** Documents' exact counts kept, by model and document (a document's text never changes). */
const MAX_KEPT = 256

/** What a count is without the model's tokenizer: about four characters a token. */
function estimate(text: string): number {
  return Math.ceil(text.length / 4)
}

export class TokenCounter {
  readonly #deps: TokenCounterDeps
  readonly #documentTokens = new Map<string, number>()

  constructor(deps: TokenCounterDeps) {
    this.#deps = deps
  }

  /** `target`: the conversation, or for a chat not created yet, what it will be created with. */
  async count(target: string | NewConversation, text: string, documentIds: readonly string[]): Promise<TokenCount> {
    const { store, models, settings } = this.#deps
    const defaults = settings()
    const chat: Pick<Conversation, 'modelId' | 'systemPrompt'> =
      typeof target === 'string'
        ? store.conversations.get(target)
        : { modelId: target.modelId === undefined ? defaults.defaultModelId : target.modelId, systemPrompt: target.systemPrompt ?? defaults.defaultSystemPrompt }
    const path = typeof target === 'string' ? store.messages.branch(target).map((e) => e.message) : []
    const documents = documentIds.map((id) => ({ id, text: store.documents.text(id).text }))
    const all = [text, ...documents.map((d) => d.text)]
    const estimated = (contextLength: number | null): TokenCount => {
      const tokens = all.reduce((sum, t) => sum + estimate(t), 0)
      return { tokens, contextLeft: left(contextLength, this.#history(chat.systemPrompt, path, estimate), tokens), estimated: true }
    }

    // A remote model's tokenizer and context are its server's: neither is known here.
    if (isRemoteModelId(chat.modelId ?? defaults.defaultModelId)) return estimated(null)
    const model = await models.resolve(chat).catch(() => null)
    if (model === null) return estimated(null)
    const status = models.status()
    const loaded = status.state === 'loaded' && status.modelId === model.id && status.info !== null
    if (!loaded || models.busy) return estimated(loaded ? status.info!.contextLength : contextLengthOf(model, defaults))

    // Nothing holds the engine: this count goes first, and a reply asked for meanwhile waits only for it.
    const exact = await models.exclusive(async () => {
      const now = models.status()
      if (now.state !== 'loaded' || now.modelId !== model.id || now.info === null) return null
      const unknown = documents.filter((d) => !this.#documentTokens.has(key(model.id, d.id)))
      const history = this.#lastUsage(path) === null ? this.#deps.documents.prompt(chat.systemPrompt, path).map((m) => m.content) : []
      const counts = await this.#deps.engine.countTokens([text, ...unknown.map((d) => d.text), ...history])
      unknown.forEach((d, i) => this.#keep(key(model.id, d.id), counts[1 + i] ?? 0))
      const tokens = (counts[0] ?? 0) + documents.reduce((sum, d) => sum + (this.#documentTokens.get(key(model.id, d.id)) ?? 0), 0)
      const used = this.#lastUsage(path) ?? counts.slice(1 + unknown.length).reduce((sum, n) => sum + n + TEMPLATE_TOKENS_PER_MESSAGE, 0)
      return { tokens, contextLeft: left(now.info.contextLength, used, tokens), estimated: false }
    })
    return exact ?? estimated(contextLengthOf(model, defaults))
  }

  /** The context the branch takes before the new message: its last reply's, else its prompt's, counted by `measure`. */
  #history(systemPrompt: string, path: readonly Message[], measure: (text: string) => number): number {
    return this.#lastUsage(path) ?? this.#deps.documents.prompt(systemPrompt, path).reduce((sum, m) => sum + measure(m.content) + TEMPLATE_TOKENS_PER_MESSAGE, 0)
  }

  /** The tokens the last finished reply on the branch held in the cache: its prompt and its own. */
  #lastUsage(path: readonly Message[]): number | null {
    const stats = path.findLast((m) => m.role === 'assistant' && m.stats !== null)?.stats
    return stats ? stats.promptTokens + stats.generatedTokens : null
  }

  #keep(k: string, tokens: number): void {
    if (this.#documentTokens.size >= MAX_KEPT) this.#documentTokens.delete(this.#documentTokens.keys().next().value!)
    this.#documentTokens.set(k, tokens)
  }
}

function key(modelId: string, documentId: string): string {
  return `${modelId}\n${documentId}`
}

/** The context left once the message is in, with its own template tokens; null when the context is unknown. */
function left(contextLength: number | null, used: number, tokens: number): number | null {
  return contextLength === null ? null : contextLength - used - tokens - TEMPLATE_TOKENS_PER_MESSAGE
}
