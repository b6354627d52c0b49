// The Api as main implements it: each method a thin call into the store, the chat service or
// the model library, plus the events that tell every window what changed.

import type { Api, ServersApi } from '../../src-shared/api.ts'
import { AppError } from '../../src-shared/errors.ts'
import { mergeParams, resolveParams } from '../../src-shared/params.ts'
import type { AppInfo, Conversation, ConversationView, ExportFormat, ExportedFile, GenerationParams } from '../../src-shared/types.ts'
import { fitCatalogEntry, loadCatalog } from '../models/catalog.ts'
import { draftCandidates } from '../model-format/draft-pairs.ts'
import { ESTIMATE_CONTEXT } from '../model-format/memory-estimate.ts'
import { findGgufModels, type DiscoverOptions } from '../models/gguf/discover.ts'
import { systemMemory } from '../models/hardware-fit.ts'
import type { ModelLibrary } from '../models/library.ts'
import { modelIdForRepo } from '../models/download-job.ts'
import type { Store } from '../store/store.ts'
import type { ChatService } from './chat-service.ts'
import { MessageEdits } from './message-edits.ts'
import type { DocumentService } from './documents.ts'
import type { EventHub } from './events.ts'
import type { EnginePort } from './engine-port.ts'
import type { ModelImports } from './model-imports.ts'
import { contextLengthOf, type ModelService } from './model-service.ts'
import type { SnapshotPurge } from './snapshot-purge.ts'
import { TokenCounter } from './token-count.ts'

export interface ApiDeps {
  info: AppInfo
  store: Store
  chat: ChatService
  documents: DocumentService
  models: ModelService
  library: ModelLibrary
  imports: ModelImports
  /** Where other apps' GGUF files are looked for. */
  discovery: DiscoverOptions
  engine: EnginePort
  events: EventHub
  /** Removes deleted conversations' KV snapshots from disk once they can no longer be restored. */
  snapshots: SnapshotPurge
  /** The desktop app's folder dialog; absent in browser mode. */
  pickFolder?: (() => Promise<string | null>) | undefined
  /** The desktop app's file manager, showing a folder; absent in browser mode. */
  openPath?: ((dir: string) => Promise<void>) | undefined
  /** The desktop app's file dialog for a GGUF; absent in browser mode. */
  pickGgufFile?: (() => Promise<string | null>) | undefined
}

/** The Api but for remote providers and the API server, which app.ts adds. */
export type CoreApi = Omit<Api, keyof ServersApi>

export function createApi(deps: ApiDeps): CoreApi {
  const { store, chat, models, library, events } = deps
  const changed = (conversation: Conversation): Conversation => {
    events.emit('conversationChanged', { conversationId: conversation.id, conversation })
    return conversation
  }
  const foldersChanged = () => events.emit('foldersChanged', { folders: store.folders.list() })
  const counter = new TokenCounter({ store, models, engine: deps.engine, documents: deps.documents, settings: () => store.settings.all() })

  const edits = new MessageEdits({ store, chat, events })

  const api: CoreApi = {
    async appInfo() {
      return deps.info
    },

    async listConversations(options) {
      return store.conversations.list(options)
    },
    async createConversation(init) {
      return changed(store.conversations.create(init))
    },
    async startConversation(init, text, documentIds) {
      const { id } = store.conversations.create(init)
      try {
        const turn = await chat.send(id, text, documentIds)
        return { ...turn, conversation: changed(store.conversations.get(id)) }
      } catch (err) {
        // Refused before the reply started (no model, a document gone): it was never shown.
        store.conversations.discard(id)
        throw err
      }
    },
    async previewConversation(init) {
      const conversation: Conversation = { ...store.conversations.draft(init), id: '', activeLeafId: null }
      return { conversation, inheritedParams: await inheritedParams(deps, conversation) }
    },
    async getConversation(conversationId) {
      const view = await viewConversation(deps, conversationId)
      // An opened chat's KV cache is read from its snapshot while the question is typed, so the
      // answer starts from memory. Not awaited; the engine takes it after any running request.
      if (view.generatingMessageId === null && deps.models.runsOnLoaded(view.conversation)) {
        deps.engine.warmCache(conversationId).catch(() => undefined)
      }
      return view
    },
    async updateConversation(conversationId, patch) {
      return changed(store.conversations.update(conversationId, patch))
    },
    async deleteConversation(conversationId) {
      await chat.stop(conversationId)
      // The store's delete also purges the conversations whose undo window has passed.
      const result = store.conversations.delete(conversationId)
      deps.snapshots.deleted(conversationId, result.undoUntil)
      events.emit('conversationChanged', { conversationId, conversation: null })
      await deps.snapshots.purgeExpired()
      // The engine forgets the cache in memory too, so it never writes it out again. Not
      // awaited: the engine takes it after any running generation.
      deps.engine.dropCache(conversationId).catch(() => undefined)
      return result
    },
    async undoDeleteConversation(conversationId) {
      const conversation = store.conversations.restore(conversationId)
      deps.snapshots.restored(conversationId)
      return changed(conversation)
    },

    async listFolders() {
      return store.folders.list()
    },
    async createFolder(name) {
      const folder = store.folders.create(name)
      foldersChanged()
      return folder
    },
    async updateFolder(folderId, patch) {
      const folder = store.folders.update(folderId, patch)
      foldersChanged()
      return folder
    },
    async deleteFolder(folderId) {
      const { conversationIds, undoUntil } = store.folders.delete(folderId)
      foldersChanged()
      for (const id of conversationIds) changed(store.conversations.get(id))
      return { undoUntil }
    },
    async undoDeleteFolder(folderId) {
      const { folder, conversationIds } = store.folders.restore(folderId)
      foldersChanged()
      for (const id of conversationIds) changed(store.conversations.get(id))
      return folder
    },

    send: (conversationId, text, documentIds) => chat.send(conversationId, text, documentIds),
    countTokens: (target, text, documentIds) => counter.count(target, text, documentIds),
    attachDocument: (attachId, name, dataBase64) => deps.documents.attach(attachId, name, dataBase64),
    async cancelAttach(attachId) {
      deps.documents.cancel(attachId)
    },
    async getDocument(documentId) {
      return deps.documents.get(documentId)
    },
    stop: (conversationId) => chat.stop(conversationId),
    regenerate: (messageId) => chat.regenerate(messageId),
    editMessage: (messageId, text, documentIds) => chat.editMessage(messageId, text, documentIds),
    async switchBranch(messageId) {
      const { conversationId } = store.messages.get(messageId)
      store.messages.switchBranch(conversationId, messageId)
      return viewConversation(deps, conversationId)
    },
    continueReply: (messageId) => chat.continueReply(messageId),
    async editReply(messageId, text) {
      return edits.editReply(messageId, text)
    },
    async deleteMessage(messageId) {
      return edits.delete(messageId)
    },
    async undoDeleteMessage(messageId) {
      return viewConversation(deps, edits.undoDelete(messageId))
    },

    async search(query, limit, folderId) {
      return store.search(query, { ...(limit === undefined ? {} : { limit }), ...(folderId === undefined ? {} : { folderId }) })
    },
    async exportConversations(conversationId, format) {
      const conversation = conversationId === null ? null : store.conversations.get(conversationId)
      return exportFile(conversation, format, store.exportText(format, conversation ? [conversation.id] : undefined))
    },
    async importConversations(text, fileName) {
      const result = await store.importText(text, fileName ?? 'the imported file', (progress) => events.emit('historyImportProgress', progress))
      if (result.folders > 0) foldersChanged()
      for (const conversationId of result.conversationIds) {
        events.emit('conversationChanged', { conversationId, conversation: store.conversations.get(conversationId) })
      }
      return result
    },

    async getSettings() {
      return store.settings.all()
    },
    async setSettings(patch) {
      // All keys or none: a bad value must not leave the earlier ones changed.
      const settings = store.settings.update(patch)
      // Not awaited: a reload for a new draft model waits for any reply being written.
      void models.settingsChanged(settings)
      return settings
    },

    listModels: () => library.list(),
    async modelsLastUsed() {
      return store.messages.lastReplyByModel()
    },
    async openModelFolder(modelId) {
      if (deps.openPath === undefined) throw new AppError('MODEL_UNSUPPORTED', 'Browser mode cannot open folders on this computer: the models folder is named in Settings → Models.')
      await deps.openPath((await library.get(modelId)).dir)
    },
    async modelStatus() {
      return models.status()
    },
    async loadModel(modelId, variant) {
      if (chat.generatingCount() > 0) {
        throw new AppError('ENGINE_BUSY', 'A reply is being written. Stop it before loading another model.')
      }
      return models.load(modelId, variant)
    },
    async unloadModel() {
      if (chat.generatingCount() > 0) {
        throw new AppError('ENGINE_BUSY', 'A reply is being written. Stop it before unloading the model.')
      }
      await models.unload()
    },
    async draftCandidates(modelId) {
      const target = await library.get(modelId)
      if (!target.valid) throw new AppError('MODEL_INVALID', `The model "${modelId}" cannot be run: ${target.reason}`)
      return draftCandidates(target, await library.list())
    },
    modelFit: (modelId, options = {}) => library.fit(modelId, options),
    async pickModelFolder() {
      if (deps.pickFolder === undefined) {
        throw new AppError('BAD_REQUEST', "Browser mode has no folder dialog: type the model folder's full path instead.")
      }
      return deps.pickFolder()
    },
    async pickGgufFile() {
      if (deps.pickGgufFile === undefined) {
        throw new AppError('BAD_REQUEST', "Browser mode has no file dialog: type the GGUF file's full path instead.")
      }
      return deps.pickGgufFile()
    },
    importModel: (source, mode, name) => deps.imports.import(source, mode, name),
    async cancelImport(source) {
      deps.imports.cancel(source)
    },
    findGgufModels: () => findGgufModels(deps.discovery),
    async removeModel(modelId, variant) {
      const status = models.status()
      const drafts = store.settings.get('draftModels')
      // The loaded model's draft is open in the engine too: its files go only once it is closed.
      const inUse = status.modelId === modelId || (status.modelId !== null && drafts[status.modelId] === modelId)
      if (inUse && status.state !== 'unloaded') await api.unloadModel()
      const result = await library.remove(modelId, variant)
      if (result.removedModel) {
        forgetDraftPairs(store, modelId)
        forgetLoadSettings(store, modelId)
      }
      return result
    },
    async catalog() {
      const installed = new Set((await library.list()).filter((m) => m.valid).map((m) => m.id))
      const budget = systemMemory()
      return loadCatalog().map((entry) => {
        const id = modelIdForRepo(entry.repo)
        return {
          entry,
          fit: fitCatalogEntry(entry, Math.min(entry.contextLength, ESTIMATE_CONTEXT), budget),
          installedModelId: installed.has(id) ? id : null,
        }
      })
    },
    searchHub: (query) => library.searchHub(query),
    async describeHubModel(repo) {
      const entry = await library.describeHubRepo(repo)
      const id = modelIdForRepo(repo)
      const installed = (await library.list()).some((m) => m.valid && m.id === id)
      return { entry, fit: fitCatalogEntry(entry, Math.min(entry.contextLength, ESTIMATE_CONTEXT), systemMemory()), installedModelId: installed ? id : null }
    },
    startDownload: (repo, variant) => library.download({ repo, variant }),
    async pauseDownload(jobId) {
      await library.cancelDownload(jobId, { keepPartial: true })
      // From now on it is a partial download, listed as such until resumed or discarded.
      library.dismissDownload(jobId)
    },
    async listPartialDownloads() {
      const active = new Set(library.downloads().filter((d) => d.state === 'queued' || d.state === 'downloading' || d.state === 'verifying').map((d) => `${d.modelId}/${d.variant}`))
      return (await library.partialDownloads()).filter((p) => !active.has(`${p.modelId}/${p.variant}`))
    },
    async discardPartialDownload(modelId, variant) {
      await library.discardPartial(modelId, variant)
    },
    async cancelDownload(jobId) {
      await library.cancelDownload(jobId)
    },
    async listDownloads() {
      return library.downloads()
    },
  }
  return api
}

/** A removed model no longer drafts, nor has a draft chosen for it. */
function forgetDraftPairs(store: Store, modelId: string): void {
  const drafts = store.settings.get('draftModels')
  const kept = Object.fromEntries(Object.entries(drafts).filter(([model, draft]) => model !== modelId && draft !== modelId))
  if (Object.keys(kept).length !== Object.keys(drafts).length) store.settings.set('draftModels', kept)
}

/** A removed model's load settings go with it: one installed again under its id starts automatic. */
function forgetLoadSettings(store: Store, modelId: string): void {
  const { [modelId]: forgotten, ...kept } = store.settings.get('modelLoadSettings')
  if (forgotten !== undefined) store.settings.set('modelLoadSettings', kept)
}

async function viewConversation(deps: ApiDeps, conversationId: string): Promise<ConversationView> {
  const conversation = deps.store.conversations.get(conversationId)
  const branch = deps.store.messages.branch(conversationId)
  const last = branch.findLast((e) => e.message.role === 'assistant' && e.message.stats !== null)?.message.stats
  return {
    conversation,
    branch,
    generatingMessageId: deps.chat.generatingMessageId(conversationId),
    replyState: deps.chat.replyState(conversationId),
    canContinue: deps.chat.canContinue(conversation),
    context: last ? { usedTokens: last.promptTokens + last.generatedTokens, contextLength: await contextLength(deps, conversation) } : null,
    inheritedParams: await inheritedParams(deps, conversation),
  }
}

/**
 * The parameters the conversation's next reply uses, as the engine settles them. A remote model's
 * own defaults are its server's and unknown here: those fields show DEFAULT_PARAMS.
 */
async function inheritedParams(deps: ApiDeps, conversation: Conversation): Promise<GenerationParams> {
  // No model chosen (or a remote one): nothing to take from a generation_config.json.
  const model = await deps.models.resolve(conversation).catch(() => null)
  const asked = mergeParams(deps.store.settings.get('defaultParams'), conversation.params)
  return resolveParams(asked, model?.generationDefaults ?? {})
}

/** The context of the model the conversation uses: the engine's figure when loaded, else its load settings' or config's. */
async function contextLength(deps: ApiDeps, conversation: Conversation): Promise<number | null> {
  const status = deps.models.status()
  const modelId = conversation.modelId ?? status.modelId
  if (modelId === null) return null
  if (status.info?.modelId === modelId) return status.info.contextLength
  const summary = await deps.library.get(modelId).catch(() => null)
  return summary?.valid ? contextLengthOf(summary, deps.store.settings.all()) : null
}

function exportFile(conversation: Conversation | null, format: ExportFormat, text: string): ExportedFile {
  const stem = conversation === null ? 'hearth-conversations' : `hearth-${slug(conversation.title)}`
  const date = new Date().toISOString().slice(0, 10)
  return format === 'json'
    ? { fileName: `${stem}-${date}.json`, mimeType: 'application/json', text }
    : { fileName: `${stem}-${date}.md`, mimeType: 'text/markdown', text }
}

function slug(title: string): string {
  const s = title
    .normalize('NFKD')
    .replace(/[^\w\s-]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '-')
    .slice(0, 50)
    .replace(/-+$/, '')
  return s === '' ? 'chat' : s
}
