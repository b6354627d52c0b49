// The contract between renderer and main: every call and event, typed once.
// Main implements `Api`; Electron IPC and the WebSocket bridge both register API_METHODS.

import type {
  ApiServerPatch,
  ApiServerStatus,
  AppInfo,
  CatalogItem,
  Conversation,
  ConversationListOptions,
  ConversationPatch,
  ConversationPreview,
  ConversationView,
  DeleteResult,
  DocumentInfo,
  DocumentProgress,
  DocumentText,
  DownloadProgress,
  ExportedFile,
  ExportFormat,
  Folder,
  FolderPatch,
  FitReport,
  GenerationStats,
  GgufCandidate,
  HistoryImportProgress,
  HubModel,
  ImportMode,
  ImportProgress,
  ImportResult,
  KvDtype,
  LoadedModelInfo,
  MenuCommand,
  Message,
  ModelStatus,
  ModelSummary,
  NewConversation,
  NewRemoteProvider,
  PartialDownload,
  PrefillProgress,
  RemoteProvider,
  RemoveResult,
  ReplyState,
  SearchHit,
  Settings,
  StartedConversation,
  TokenCount,
  ToolDecision,
  ToolServerStatus,
  Turn,
  VariantName,
} from './types.ts'

/** Remote providers and Hearth's own OpenAI-compatible server (main composes them into the Api). */
export interface ServersApi {
  /** OpenAI-compatible servers whose models chats can use; their API keys never leave main. */
  listRemoteProviders(): Promise<RemoteProvider[]>
  /** Fetches the server's model list first: one that cannot be reached is not added (REMOTE_FAILED). */
  addRemoteProvider(provider: NewRemoteProvider): Promise<RemoteProvider>
  /** Fetches its model list again. */
  refreshRemoteProvider(providerId: string): Promise<RemoteProvider>
  removeRemoteProvider(providerId: string): Promise<void>
  /** Whether and where the API server listens; on/off and the port are Settings (setSettings applies them). */
  apiServerStatus(): Promise<ApiServerStatus>
  /** Network access, the API key and allowed origins; restarts the server when it runs. */
  configureApiServer(patch: ApiServerPatch): Promise<ApiServerStatus>

  /** The MCP servers of Settings' mcpServers as they run: state, tools, why one failed. Changes come as `toolServers` events. */
  listToolServers(): Promise<ToolServerStatus[]>
  /** Stops the server and starts it again (after it failed, or to list its tools anew). */
  restartToolServer(name: string): Promise<ToolServerStatus>
  /**
   * Answers a tool call waiting for approval (a tool message streaming with tool.state
   * 'approval'): run it once, always for this tool, or deny it. CONFLICT when it is not waiting.
   */
  answerToolCall(messageId: string, decision: ToolDecision): Promise<void>
  /** Denies a call waiting for approval, or cancels one running; the model reads what became of it. */
  cancelToolCall(messageId: string): Promise<void>
}

/**
 * Ids: conversations and messages are UUIDs (as the store makes them); models are folder
 * names in the models directory; download jobs are UUIDs.
 *
 * Generation calls (send, regenerate, editMessage, continueReply) return as soon as the rows
 * are stored; the reply then streams as `token` events and ends with one `done` event.
 * One generation per conversation at a time: starting another while one runs rejects with
 * ENGINE_BUSY. Generations in different conversations wait their turn for the engine.
 */
export interface Api extends ServersApi {
  appInfo(): Promise<AppInfo>

  // ── Conversations ──
  /** Pinned first, then most recently updated; `archived: true` lists the archive. */
  listConversations(options?: ConversationListOptions): Promise<Conversation[]>
  createConversation(init?: NewConversation): Promise<Conversation>
  /**
   * Creates a conversation and sends its first message as one step (a new chat is stored only
   * then): when the send is refused, nothing is stored and the error says why.
   */
  startConversation(init: NewConversation, text: string, documentIds?: string[]): Promise<StartedConversation>
  /** A new chat before its first message, as startConversation would create it with `init`: the settings' defaults filled in. */
  previewConversation(init: NewConversation): Promise<ConversationPreview>
  /** The conversation with its active branch (root first) and what each branch switcher needs. */
  getConversation(conversationId: string): Promise<ConversationView>
  /** Rename, pin, archive, model, system prompt, params, context policy: whatever the patch names. */
  updateConversation(conversationId: string, patch: ConversationPatch): Promise<Conversation>
  /** Hides it at once (stopping its generation); undoDeleteConversation brings it back until undoUntil. */
  deleteConversation(conversationId: string): Promise<DeleteResult>
  undoDeleteConversation(conversationId: string): Promise<Conversation>

  // ── Folders ──
  /** In the user's order. A conversation joins one with updateConversation({ folderId }). */
  listFolders(): Promise<Folder[]>
  /** Last in the order, expanded, with no default preset. */
  createFolder(name: string): Promise<Folder>
  updateFolder(folderId: string, patch: FolderPatch): Promise<Folder>
  /** Its conversations stay, unfiled; undoDeleteFolder puts it back, with them, until undoUntil. */
  deleteFolder(folderId: string): Promise<DeleteResult>
  /** The folder at its place again, and its conversations not filed elsewhere since back in it. */
  undoDeleteFolder(folderId: string): Promise<Folder>

  // ── Chat ──
  /** Appends the user's message, with the documents named (attachDocument's ids), to the active branch and starts the reply. */
  send(conversationId: string, text: string, documentIds?: string[]): Promise<Turn>
  /**
   * A message being written, with its documents, in tokens, and the context it would leave in the
   * conversation (or, for a chat not created yet, one created with `target`'s settings). The
   * model's own tokenizer when it is loaded and idle, else an estimate: a count never loads a
   * model nor waits for a reply being written.
   */
  countTokens(target: string | NewConversation, text: string, documentIds: string[]): Promise<TokenCount>
  /** Stops the conversation's generation in the engine; the reply keeps its text, status 'interrupted'. No-op when none runs. */
  stop(conversationId: string): Promise<void>
  /**
   * A new reply as a sibling of the given assistant message (or, given a user message, a new
   * reply to it); it becomes the active branch. Returns the reply row being streamed.
   */
  regenerate(messageId: string): Promise<Message>
  /**
   * A user message with new text as a sibling of the given one (a new branch), and its reply. Its
   * documents are documentIds, or absent, the original's.
   */
  editMessage(messageId: string, text: string, documentIds?: string[]): Promise<Turn>
  /** Makes the given message's branch active (down to its most recent leaf): pass a sibling id from BranchEntry.siblingIds. */
  switchBranch(messageId: string): Promise<ConversationView>
  /** Carries on an interrupted (or stopped) reply from its last text; returns the same message, streaming again. */
  continueReply(messageId: string): Promise<Message>
  /**
   * The user's text for a reply, stored as a new branch beside it (the model's reply stays) and
   * marked `edited`; it becomes the active branch and the next turn's prompt reads it. No reply is
   * generated. ENGINE_BUSY while the conversation generates.
   */
  editReply(messageId: string, text: string): Promise<Message>
  /**
   * Deletes the message and everything below it on every branch (a reply's tool results too); an
   * active branch through it moves to the newest leaf under its parent. undoDeleteMessage brings it
   * all back until undoUntil. ENGINE_BUSY while the conversation generates.
   */
  deleteMessage(messageId: string): Promise<DeleteResult>
  /** The deleted message back with everything below it, the branch that was active shown again. */
  undoDeleteMessage(messageId: string): Promise<ConversationView>

  // ── Documents ──
  /**
   * Reads a file's text (off the main thread) and stores it, once per content: the same bytes give
   * the same document. Progress comes as `documentProgress` events under attachId; cancelAttach
   * ends it (CANCELLED) leaving nothing. DOCUMENT_TOO_BIG over MAX_DOCUMENT_BYTES; DOCUMENT_INVALID
   * for what has no text to read (a binary file, a corrupt or encrypted PDF, a PDF without a text
   * layer), saying which.
   */
  attachDocument(attachId: string, name: string, dataBase64: string): Promise<DocumentInfo>
  cancelAttach(attachId: string): Promise<void>
  /** A stored document and its text, to read. */
  getDocument(documentId: string): Promise<DocumentText>

  // ── History ──
  /**
   * Conversations whose title holds every word, then messages that do, best first; each word
   * matches as the start of a word, a "quoted phrase" as whole words. To jump to a message hit:
   * switchBranch(hit.messageId). `folderId` keeps only the conversations in that folder.
   */
  search(query: string, limit?: number, folderId?: string): Promise<SearchHit[]>
  /** One conversation, or every one (null), as a file to save. */
  exportConversations(conversationId: string | null, format: ExportFormat): Promise<ExportedFile>
  /**
   * Hearth's JSON export or ChatGPT's conversations.json; all or nothing, one import at a time
   * (CONFLICT), progress as `historyImportProgress` events. fileName only names it in errors.
   */
  importConversations(text: string, fileName?: string): Promise<ImportResult>

  // ── Settings ──
  getSettings(): Promise<Settings>
  /**
   * Changes the named settings and returns them all; an invalid value changes nothing. A new
   * draft model for the loaded model reloads it with the draft (after any reply being written);
   * `modelStatus` events follow the reload.
   */
  setSettings(patch: Partial<Settings>): Promise<Settings>

  // ── Models ──
  /** Every folder in the models directory: valid ones with their facts, invalid ones with the reason. */
  listModels(): Promise<ModelSummary[]>
  /** When each model last wrote a reply in a chat, by model id; models never used are absent. */
  modelsLastUsed(): Promise<Record<string, number>>
  /**
   * Opens the model's folder in the system's file manager (the desktop app only; browser mode,
   * which may be used from another device, has none: MODEL_UNSUPPORTED, and AppInfo.modelsDir says where).
   */
  openModelFolder(modelId: string): Promise<void>
  modelStatus(): Promise<ModelStatus>
  /** Loads a model into the engine (unloading the current one); variant: else the provider's best. */
  loadModel(modelId: string, variant?: VariantName): Promise<LoadedModelInfo>
  unloadModel(): Promise<void>
  /**
   * The installed models that can draft for this one in speculative decoding, smallest first:
   * the same vocabulary and logits width, fewer parameters. Choosing one is Settings.draftModels.
   */
  draftCandidates(modelId: string): Promise<Extract<ModelSummary, { valid: true }>[]>
  /**
   * Will it fit this machine: per variant, at `context` tokens (default: the model's context, at
   * most ESTIMATE_CONTEXT); `variant` is the one `chosen` judges (default: the best); the KV cache
   * in `kvDtype` (default: each variant's own).
   */
  modelFit(modelId: string, options?: { context?: number; variant?: VariantName; kvDtype?: KvDtype }): Promise<FitReport>
  /** The desktop app's folder dialog; null when cancelled. Browser mode has none: the user types a path. */
  pickModelFolder(): Promise<string | null>
  /** The desktop app's file dialog for a GGUF file (any file: Ollama's blobs have no extension); null when cancelled. */
  pickGgufFile(): Promise<string | null>
  /**
   * Adds a model on this machine to the library. A folder is validated, then copied or linked.
   * A file is read as GGUF (by its content, not its name) and converted into a new folder, whatever
   * `mode` says, leaving the file where it is: progress comes as `importProgress` events, the call
   * resolves when the model is listed, and cancelImport ends it (CANCELLED) leaving nothing. One
   * conversion of a file at a time (CONFLICT). `name` names the model where the file's name does
   * not (an Ollama blob: pass GgufCandidate.name).
   */
  importModel(source: string, mode: ImportMode, name?: string): Promise<ModelSummary>
  /** Ends the conversion of this file, if one runs. */
  cancelImport(source: string): Promise<void>
  /** GGUF files that LM Studio, Jan and Ollama keep in their usual folders on this computer. */
  findGgufModels(): Promise<GgufCandidate[]>
  /** A whole model, or one variant of it. */
  removeModel(modelId: string, variant?: VariantName): Promise<RemoveResult>
  /** The curated models that can be downloaded, with their fit on this machine. */
  catalog(): Promise<CatalogItem[]>
  /**
   * Discover: the Hub's text-generation repositories matching `query` that Hearth can run (an ONNX
   * export with config and tokenizer), most downloaded first. HUB_UNREACHABLE offline.
   */
  searchHub(query: string): Promise<HubModel[]>
  /** One Hub repository's variants with their sizes and fit on this machine; MODEL_UNSUPPORTED when it cannot run. */
  describeHubModel(repo: string): Promise<CatalogItem>
  /** Queues a download from the Hub (a catalog repo or any repo id); progress comes as events. */
  startDownload(repo: string, variant: VariantName): Promise<DownloadProgress>
  cancelDownload(jobId: string): Promise<void>
  /**
   * Stops a download keeping what it fetched: it is then listed by listPartialDownloads, and
   * startDownload of the same repo and variant resumes it.
   */
  pauseDownload(jobId: string): Promise<void>
  /** Downloads stopped before they finished (paused, failed, or cut by a quit), with how far each got. */
  listPartialDownloads(): Promise<PartialDownload[]>
  /** Deletes what a stopped download fetched. */
  discardPartialDownload(modelId: string, variant: VariantName): Promise<void>
  /** Downloads of this session, queued, running and finished. */
  listDownloads(): Promise<DownloadProgress[]>
}

export type ApiMethod = keyof Api

/** Every method of Api, for the transports to register and the preload to expose. */
export const API_METHODS = [
  'appInfo',
  'listConversations',
  'createConversation',
  'startConversation',
  'previewConversation',
  'getConversation',
  'updateConversation',
  'deleteConversation',
  'undoDeleteConversation',
  'listFolders',
  'createFolder',
  'updateFolder',
  'deleteFolder',
  'undoDeleteFolder',
  'send',
  'countTokens',
  'attachDocument',
  'cancelAttach',
  'getDocument',
  'stop',
  'regenerate',
  'editMessage',
  'switchBranch',
  'continueReply',
  'editReply',
  'deleteMessage',
  'undoDeleteMessage',
  'search',
  'exportConversations',
  'importConversations',
  'getSettings',
  'setSettings',
  'listModels',
  'modelsLastUsed',
  'openModelFolder',
  'modelStatus',
  'loadModel',
  'unloadModel',
  'draftCandidates',
  'modelFit',
  'pickModelFolder',
  'pickGgufFile',
  'importModel',
  'cancelImport',
  'findGgufModels',
  'removeModel',
  'catalog',
  'searchHub',
  'describeHubModel',
  'startDownload',
  'cancelDownload',
  'pauseDownload',
  'listPartialDownloads',
  'discardPartialDownload',
  'listDownloads',
  'listRemoteProviders',
  'addRemoteProvider',
  'refreshRemoteProvider',
  'removeRemoteProvider',
  'apiServerStatus',
  'configureApiServer',
  'listToolServers',
  'restartToolServer',
  'answerToolCall',
  'cancelToolCall',
] as const satisfies readonly ApiMethod[]

// Compile-time proof that API_METHODS lists every method of Api.
type Missing = Exclude<ApiMethod, (typeof API_METHODS)[number]>
const everyMethodListed: [Missing] extends [never] ? true : Missing = true
void everyMethodListed

export interface Notice {
  level: 'info' | 'warning' | 'error'
  message: string
}

export interface Events {
  /** Something the user should know that no call returned (a fallback, a recovered file). */
  notice: Notice
  /** A piece of a reply as it streams; append in order. */
  token: { conversationId: string; messageId: string; text: string }
  /**
   * A generation ended, however it ended: `message` is the stored reply with its final text,
   * status ('complete', 'interrupted' or 'error') and stats. Always the last event of a reply.
   */
  done: { conversationId: string; messageId: string; stats: GenerationStats | null; message: Message }
  /** Why a generation failed (sent before its `done`, whose message then has status 'error'). */
  generationError: { conversationId: string; messageId: string; error: { code: string; message: string } }
  /** A message row was created or changed outside of streaming (new turn, branch, continue). */
  messageChanged: { conversationId: string; message: Message }
  /** A conversation was created, changed or moved in the list; null when it was deleted. */
  conversationChanged: { conversationId: string; conversation: Conversation | null }
  /** A folder was created, changed, moved or deleted: every folder as it is now. */
  foldersChanged: { folders: Folder[] }
  /** The engine's model changed state. */
  modelStatus: ModelStatus
  /** The models directory changed (imported, downloaded, removed): list the models again. */
  modelsChanged: Record<string, never>
  downloadProgress: DownloadProgress
  /** A GGUF conversion started, wrote a tensor, or ended; the model itself arrives with `modelsChanged`. */
  importProgress: ImportProgress
  /** A conversations import checked or wrote another slice of the file. */
  historyImportProgress: HistoryImportProgress
  /** A file being attached was read further. */
  documentProgress: DocumentProgress
  /**
   * A reply moved on: queued behind another chat's reply (waitingFor names it, and changes as the
   * queue moves), its model loading, its prompt being read, its first token written. Local models
   * only go through every state; the reply's `done` ends them.
   */
  replyState: ReplyState
  /** A reply's prompt was prefilled further (long prompts only: a few events a second at most). */
  prefillProgress: PrefillProgress
  /** An MCP server started, failed, stopped or changed its tools: every server as it is now. */
  toolServers: { servers: ToolServerStatus[] }
  /** From the application menu or its shortcuts (new chat, search, settings). */
  menuCommand: { command: MenuCommand }
  /**
   * Browser mode's link to Hearth, from the page's side, once it has been up: it dropped and is
   * being tried again, it stayed down past a few tries (Hearth stopped, or restarted with a new
   * access token), or it is back. The desktop app's link never drops, so it never says.
   */
  connection: { state: 'connected' | 'reconnecting' | 'lost' }
}

export type EventName = keyof Events

export type Unsubscribe = () => void

export interface EventSource {
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): Unsubscribe
}

/** What renderer code uses: the calls (rejecting with AppError) plus event subscription. */
export interface ApiClient extends Api, EventSource {}

/**
 * What a transport exposes (the preload's `window.api`, the WebSocket client): each call
 * resolves to its CallResult, because only an error's message survives Electron's invoke.
 */
export type Bridge = {
  [M in ApiMethod]: (...args: Parameters<Api[M]>) => Promise<CallResult<Awaited<ReturnType<Api[M]>>>>
} & EventSource

/** Wire format of a call's outcome, the same over IPC and WebSocket. */
export type CallResult<T = unknown> =
  | { ok: true; value: T }
  | { ok: false; error: { code: string; message: string } }
