// Domain types shared by main, engine and renderer, and the two runtime values they need
// everywhere: DEFAULT_PARAMS and DEFAULT_SETTINGS (plain data).

export type StopReason = 'eos' | 'stop-string' | 'length' | 'cancelled' | 'error'

/** Execution providers onnxruntime-node can be asked for, in our naming. */
export type ProviderName = 'cuda' | 'dml' | 'coreml' | 'webgpu' | 'cpu'

export interface ProviderAttempt {
  provider: ProviderName
  ok: boolean
  /** Why this provider was not used (set when ok is false). */
  reason?: string
}

export interface GenerationParams {
  /** 0 means greedy (argmax): deterministic. */
  temperature: number
  /** 0 disables top-k. */
  topK: number
  /** 1 disables top-p. */
  topP: number
  /** 0 disables min-p. */
  minP: number
  /** 1 disables the penalty. */
  repetitionPenalty: number
  maxTokens: number
  /** null: a fresh seed per generation. */
  seed: number | null
  stop: string[]
}

/**
 * What a generation uses where neither the request, the user's settings nor the model's
 * generation_config.json say (src-shared/params.ts): no penalty and no cut, so the model's own
 * distribution at a moderate temperature.
 */
export const DEFAULT_PARAMS: GenerationParams = {
  temperature: 0.7,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  maxTokens: 1024,
  seed: null,
  stop: [],
}

/** The sampling defaults a model's generation_config.json states; what it does not name is absent. */
export type SamplingDefaults = Partial<Pick<GenerationParams, 'temperature' | 'topK' | 'topP' | 'minP' | 'repetitionPenalty'>>

/** What to do when the prompt plus the reply's reserve exceeds the model's context. */
export type ContextPolicy = 'stop' | 'drop-oldest' | 'truncate-middle'

export interface GenerationStats {
  promptTokens: number
  /** Prompt tokens served from the KV cache instead of prefilled. */
  reusedTokens: number
  prefillMs: number
  prefillTokensPerSecond: number
  /** From the engine taking the request to the first generated token. */
  ttftMs: number
  /**
   * From the request (Send) to the engine taking it: the wait behind other chats' replies and for
   * the model to load. The time to first token the user saw is queueMs + ttftMs. Absent in older rows.
   */
  queueMs?: number
  decodeTokensPerSecond: number
  generatedTokens: number
  stopReason: StopReason
  provider: ProviderName | 'remote'
  /** Indices (in the request's message list) of turns dropped to fit the context. */
  droppedMessages?: number[]
  /** The same turns as the ids of their messages in the conversation; absent in older rows. */
  droppedMessageIds?: string[]
  /** Speculative decoding's work on this reply; absent when nothing was drafted. */
  speculation?: SpeculationStats
}

/** Where drafted tokens came from: the conversation's own text, the request's prediction, a draft model. */
export type DraftSource = 'lookup' | 'prediction' | 'model'

/**
 * Speculative decoding on one reply: tokens guessed ahead and checked by the model in one pass
 * each. Every accepted token is a decode pass saved; rejected ones cost only a wider pass.
 */
export interface SpeculationStats {
  /** Drafted tokens the model checked. */
  drafted: number
  /** Of those, the ones it kept (the reply is exactly what plain decoding would give, or, sampling, has its distribution). */
  accepted: number
  /** Verification passes: forward passes that checked at least one drafted token. */
  passes: number
  /** The draft sources used, in the order they were first used. */
  sources: DraftSource[]
}

export type Role = 'system' | 'user' | 'assistant'

export interface ChatMessage {
  role: Role
  content: string
}

/** A function the model may call (OpenAI's tools[].function): its parameters a JSON Schema. */
export interface ToolDefinition {
  name: string
  description?: string
  parameters?: Record<string, unknown>
}

/** Whether the model may call tools ('auto'), must not ('none'), must call one ('required'), or must call this one. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string }

/** A call the model wrote: `arguments` is the JSON text of an object. */
export interface ToolCall {
  id: string
  name: string
  arguments: string
}

/**
 * A message as a prompt holds it: a chat's, or (from the API) an assistant's tool calls and a
 * tool's result, which the model's chat template renders in its own format.
 */
export interface PromptMessage {
  role: Role | 'tool'
  content: string
  toolCalls?: ToolCall[]
  /** role 'tool': the call this is the result of. */
  toolCallId?: string
}

export type MessageStatus = 'streaming' | 'complete' | 'interrupted' | 'error'

/** A message's role in the tree: a chat's, or a tool's result. */
export type MessageRole = Role | 'tool'

/**
 * The call a tool message answers. While its status is 'streaming' it waits for the user's
 * approval ('approval') or runs ('running'); its content then is the result the model reads.
 */
export interface ToolUse {
  callId: string
  /** The tool's name as the model called it. */
  name: string
  /** The MCP server that has the tool; null when none did (the model called a tool nobody has). */
  server: string | null
  /** The call's arguments, the JSON text the model wrote. */
  arguments: string
  state: 'approval' | 'running' | 'done'
  /** How long the tool took; null while it has not run. */
  durationMs: number | null
  /** The result was cut to fit the model's context: its full length in characters. */
  truncatedFrom?: number
}

export interface Message {
  id: string
  conversationId: string
  parentId: string | null
  role: MessageRole
  content: string
  status: MessageStatus
  stats: GenerationStats | null
  modelId: string | null
  error: string | null
  createdAt: number
  /** Files attached to this user message, in order; absent or empty: none. */
  documents?: DocumentInfo[]
  /**
   * How the documents of the conversation reached the model for this user message, fixed when it
   * was first answered so the prompt's prefix stays the same for every later turn; absent: none.
   */
  documentContext?: DocumentContext | null
  /** An assistant message's calls of tools, in order; each has a tool message answering it below. */
  toolCalls?: ToolCall[]
  /** A tool message's call. */
  tool?: ToolUse
  /** A reply whose text the user wrote over the model's (editReply); absent: as generated. */
  edited?: true
}

// ── Documents ──

/** The largest file that can be attached. */
export const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
/** The most files one message carries. */
export const MAX_DOCUMENTS_PER_MESSAGE = 10

/** What a document's text was extracted from. */
export type DocumentKind = 'text' | 'markdown' | 'code' | 'csv' | 'tsv' | 'json' | 'html' | 'pdf' | 'docx'

/** A file attached to messages. Its text is stored once however often it is attached. */
export interface DocumentInfo {
  /** sha256 of the file's bytes, hex: the same file attached twice is one document. */
  id: string
  /** The file's name as it was attached. */
  name: string
  kind: DocumentKind
  mimeType: string
  /** The file's size. */
  bytes: number
  /** Characters of extracted text. */
  chars: number
  /** A PDF's pages; null for other kinds. */
  pages: number | null
  createdAt: number
}

export interface DocumentText {
  info: DocumentInfo
  text: string
}

/**
 * How a message's documents reach the model: 'full' puts their whole text in that message, where
 * it stays for every later turn; 'retrieval' (when they do not fit the context) puts only the
 * passages that best match each later question, before it.
 */
export type DocumentMode = 'full' | 'retrieval'

/** A passage of a document put in the prompt for one question. */
export interface DocumentPassage {
  documentId: string
  /** The document's name where it was attached. */
  name: string
  /** The chunk's index in the document. */
  chunk: number
  /** Where the passage lies in the document's text: [start, end) in characters. */
  start: number
  end: number
}

/** What a user message put before the model besides its own text, settled when first answered. */
export interface DocumentContext {
  /** How this message's own documents went in; null when it attached none. */
  mode: DocumentMode | null
  /** Why, as the UI says it ("report.pdf is 12,400 tokens; the context leaves room for 3,100"). */
  reason: string
  /** Passages of the conversation's retrieval documents put before this question, best first. */
  passages: DocumentPassage[]
}

/** Reading a file being attached. */
export interface DocumentProgress {
  attachId: string
  name: string
  phase: 'reading' | 'extracting' | 'indexing'
  /** Pages (PDF) or bytes done, of total. */
  done: number
  total: number
}

/** The prefill of a long prompt as it goes; the reply's first token follows the last one. */
export interface PrefillProgress {
  conversationId: string
  messageId: string
  /** Prompt tokens in the cache, of total (reused ones counted as done). */
  done: number
  total: number
  /** Over the tokens prefilled so far in this request. */
  tokensPerSecond: number
}

export interface Conversation {
  id: string
  title: string
  createdAt: number
  updatedAt: number
  modelId: string | null
  systemPrompt: string
  params: Partial<GenerationParams>
  contextPolicy: ContextPolicy
  pinned: boolean
  archived: boolean
  /** The leaf of the branch the user is looking at. */
  activeLeafId: string | null
  /** The MCP servers (by name in Settings' mcpServers) whose tools the model is offered in this chat. */
  toolServers: string[]
  /** The folder it is filed in; null: none. */
  folderId: string | null
}

/** A sidebar folder of conversations, in the user's order. */
export interface Folder {
  /** A UUID. */
  id: string
  name: string
  /** Its place among the folders, from 0. */
  position: number
  /** Its conversations hidden in the sidebar. */
  collapsed: boolean
  /** The preset (Settings' presets) a new chat in it starts from; null: none. A preset since deleted is ignored. */
  defaultPresetId: string | null
  createdAt: number
}

/** The fields of a folder a caller may change; `position` moves it there, the others shifting. */
export interface FolderPatch {
  name?: string
  collapsed?: boolean
  defaultPresetId?: string | null
  position?: number
}

export interface AppInfo {
  name: string
  version: string
  platform: string
  arch: string
  /** 'electron' in the desktop app, 'browser' when served to a browser. */
  shell: 'electron' | 'browser'
  /** Where the history and settings live. */
  dataDir: string
  /** Where model folders live: the empty state tells a new user to put one here. */
  modelsDir: string
}

/** ONNX weight variants a Hugging Face ONNX export may carry (onnx/model_<suffix>.onnx). */
export type VariantName = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4'

/** Element type of a KV cache's keys and values. */
export type KvDtype = 'float32' | 'float16'

export interface ModelVariant {
  name: VariantName
  /** Path of the .onnx file relative to the model folder, e.g. 'onnx/model_q4.onnx'. */
  file: string
  /** The .onnx file plus its external data chunks. */
  bytes: number
}

/** A model folder as the library sees it: valid with its facts, or invalid with the reason. */
export type ModelSummary =
  | {
      valid: true
      id: string
      name: string
      dir: string
      architecture: string
      /** Estimated from the config's shapes; null when the config lacks them. */
      parameters: number | null
      contextLength: number
      layers: number
      kvHeads: number
      headDim: number
      hiddenSize: number
      vocabSize: number
      /** The KV cache dtype config.json declares; null: the variant's own (fp16 kinds float16). */
      declaredKvDtype: KvDtype | null
      /** Sampling defaults from generation_config.json; a generation's unset fields come from here. */
      generationDefaults: SamplingDefaults
      variants: ModelVariant[]
      /** How the folder was made from a GGUF file; null for a folder exported as it is. */
      conversion: ConversionInfo | null
    }
  | { valid: false; id: string; name: string; dir: string; reason: string }

/** What the GGUF importer did to make a model folder (its hearth-conversion.json). */
export interface ConversionInfo {
  /** The GGUF file's name, or the name it was imported under (an Ollama model's `model:tag`). */
  source: string
  architecture: string
  /** The GGUF's tensor types, with how many tensors of each. */
  sourceTypes: Record<string, number>
  variant: VariantName
  /** Tensors written as floats with the GGUF's values exactly. */
  floatTensors: number
  /** Quantized tensors whose blocks were carried over unchanged in value. */
  exactTensors: number
  /** Tensors whose values changed: requantized, or quantized from floats. */
  requantizedTensors: number
  /** Over the requantized weights: the largest error of one weight and the RMS error; null when none. */
  maxAbsError: number | null
  rmsError: number | null
  notes: string[]
}

/** A model as loaded in the engine. */
export interface LoadedModelInfo {
  modelId: string
  variant: VariantName
  provider: ProviderName
  /** Every provider tried in order, with the reason each failed one was not used. */
  providerAttempts: ProviderAttempt[]
  contextLength: number
  kvDtype: KvDtype
  /** False when the model cannot take several new tokens on top of a cache (probed at load). */
  multiTokenPass: boolean
  threads: number
  /** How the KV cache is updated each step (see KvUpdate). */
  kvUpdate: KvUpdate
  /** Why a faster way of updating the cache was not used; empty for 'split'. */
  kvUpdateNotes: string[]
  /** Parts of the graph fused into single kernels at load ("rotary embedding ×60"); may be empty. */
  fusions: string[]
  /**
   * Whether the 4-bit matmuls quantize their activations to int8 (MatMulNBits accuracy_level 4),
   * as llama.cpp's q4 kernels do; false for a model without them or with the setting off.
   */
  int8Activations: boolean
  /** Whether this session can verify drafted tokens, and with which draft model. */
  speculation: SpeculationInfo
}

export interface SpeculationInfo {
  /** False where a pass cannot check several tokens or roll the cache back; `reason` says why. */
  available: boolean
  reason?: string
  /** The draft model loaded beside this one; null: drafts come from the text only. */
  draftModelId: string | null
  /** Why the chosen draft model was not loaded (it is not compatible, or failed to load). */
  draftModelError?: string
}

/**
 * 'split': the graph was rewritten at load so attention reads the cache where it lies and only
 * the new tokens' keys and values come out, written in place. 'append': rewritten too, but the
 * graph still concatenates the cache internally each step. 'copy': the export as it is, which
 * returns the whole cache every step, copied into new memory.
 */
export type KvUpdate = 'split' | 'append' | 'copy'

// ── Model library: catalog, downloads, hardware fit ──

/** One ONNX variant a catalog entry offers, with the files it takes from the Hub. */
export interface CatalogVariant {
  name: VariantName
  /** Repo-relative: the .onnx file first, then its external data chunks in order. */
  files: string[]
  /** Approximate bytes of those files, from the Hub's listing when the entry was written. */
  bytes: number
}

/** A curated model the picker offers for download (resources/catalog.json). */
export interface CatalogEntry {
  /** Hub repository id, e.g. 'HuggingFaceTB/SmolLM2-135M-Instruct'. */
  repo: string
  name: string
  architecture: string
  parameters: number
  contextLength: number
  layers: number
  kvHeads: number
  headDim: number
  vocabSize: number
  license: string
  variants: CatalogVariant[]
  /** True when repo id, file names and sizes were checked against the Hub's listing. */
  verified: boolean
}

export type DownloadState = 'queued' | 'downloading' | 'verifying' | 'done' | 'failed' | 'cancelled'

/** A download job as the UI sees it; sent on every state change and a few times a second. */
export interface DownloadProgress {
  jobId: string
  repo: string
  variant: VariantName
  /** The folder name (and model id) the model gets in the models directory. */
  modelId: string
  state: DownloadState
  /** Repo-relative path of the file being transferred; null when none is. */
  file: string | null
  bytesDone: number
  bytesTotal: number
  /** Transfer rate over the last few seconds; 0 before data flows. */
  bytesPerSecond: number
  /** null while the rate is unknown. */
  etaSeconds: number | null
  /** Why the job failed (state 'failed'), as error data. */
  error: { code: string; message: string } | null
}

/** A download that stopped before it finished (app closed, cancelled with keep, disk full). */
export interface PartialDownload {
  repo: string
  revision: string
  variant: VariantName
  modelId: string
  bytesDone: number
  bytesTotal: number
}

export type FitVerdict = 'fits' | 'tight' | 'wont-fit'

/** What a model can use: RAM always, GPU memory when the caller knows it. Bytes. */
export interface MemoryBudget {
  totalRam: number
  availableRam: number
  /** Dedicated GPU memory; null when unknown or when running on the CPU. */
  gpuMemory: number | null
}

/** Memory estimate of one variant at one context length. Bytes. */
export interface FitEstimate {
  variant: VariantName
  context: number
  verdict: FitVerdict
  /** Where the weights and cache would live. */
  device: 'gpu' | 'ram'
  weightsBytes: number
  kvBytes: number
  overheadBytes: number
  totalBytes: number
  /** Largest context (up to the model's) at which this variant still 'fits'; 0 when none. */
  maxContext: number
}

export interface FitReport {
  /** The variant asked for, or else the best one. */
  chosen: FitEstimate
  /** Every variant considered, best first. */
  variants: FitEstimate[]
}

// ── Chat history (store) ──

/** One message of a conversation's active branch, with what the "2/3" branch switcher needs. */
export interface BranchEntry {
  message: Message
  /** This message and its siblings (same parent; roots count as siblings), oldest first. */
  siblingIds: string[]
  /** Position of message.id in siblingIds: the switcher shows siblingIndex + 1 / siblingIds.length. */
  siblingIndex: number
}

/** The fields of a conversation a caller may change. */
export interface ConversationPatch {
  title?: string
  modelId?: string | null
  systemPrompt?: string
  params?: Partial<GenerationParams>
  contextPolicy?: ContextPolicy
  pinned?: boolean
  archived?: boolean
  toolServers?: string[]
  folderId?: string | null
}

export interface ConversationListOptions {
  /** false (default): the main list; true: the archive. */
  archived?: boolean
  limit?: number
  offset?: number
}

/** A piece of a search snippet; `match` pieces are the highlighted query terms. Plain text, not HTML. */
export interface SnippetPart {
  text: string
  match: boolean
}

/** A message that holds every searched word; to jump to it: switchBranch(messageId). */
export interface MessageHit {
  kind: 'message'
  conversationId: string
  conversationTitle: string
  messageId: string
  role: MessageRole
  createdAt: number
  snippet: SnippetPart[]
  /**
   * FTS5 bm25 rank, lower is better, hits best first; null when a searched word is in so many
   * messages that relevance says little, and hits come newest first instead.
   */
  rank: number | null
}

/** A conversation whose title holds every searched word; snippet is the title, marked. */
export interface TitleHit {
  kind: 'title'
  conversationId: string
  conversationTitle: string
  // Absent, so code that reads hit.messageId needs no narrowing first.
  messageId?: never
  snippet: SnippetPart[]
}

/** Title hits come first (a title names the whole conversation), then message hits. */
export type SearchHit = TitleHit | MessageHit

export type ExportFormat = 'json' | 'markdown'

/** 'hearth': Hearth's own JSON export; 'chatgpt': ChatGPT's conversations.json. */
export type ImportFormat = 'hearth' | 'chatgpt'

/** A conversations import as it goes: the file's conversations checked, then its messages written. */
export interface HistoryImportProgress {
  fileName: string
  phase: 'reading' | 'writing'
  done: number
  total: number
}

export interface ImportResult {
  format: ImportFormat
  /** New ids of the imported conversations, in file order. */
  conversationIds: string[]
  messages: number
  /** Source messages left out (tool calls, hidden system turns, non-text parts only). */
  skippedMessages: number
  /** Presets the file brought that were not here yet. */
  presets: number
  /** Folders the file brought that were not here yet. */
  folders: number
}

export type Theme = 'system' | 'light' | 'dark'

/** Every setting with its type; stored as typed key/value, unknown or invalid values read as the default. */
export interface Settings {
  theme: Theme
  /** The model new conversations start with; null: the user picks. */
  defaultModelId: string | null
  defaultSystemPrompt: string
  /** Only what the user set: the rest comes from the model's generation_config.json, else DEFAULT_PARAMS. */
  defaultParams: Partial<GenerationParams>
  defaultContextPolicy: ContextPolicy
  /** Enter sends and Shift+Enter breaks the line; false swaps them. */
  sendOnEnter: boolean
  /** The OpenAI-compatible server for other tools, on localhost only. */
  apiServerEnabled: boolean
  apiServerPort: number
  /** 'auto': the platform's GPU providers first, then the CPU; a named one is tried first. */
  providerPreference: ProviderPreference
  /** Engine CPU threads; null: chosen from the machine's cores. */
  threads: number | null
  /** Bytes all conversations' KV caches may hold in memory; null: from the machine's free memory. */
  kvCacheBudgetBytes: number | null
  /** Base font size of the UI, in CSS pixels. */
  fontSize: number
  /** Unload the model after this many idle minutes; 0: never. */
  idleUnloadMinutes: number
  /**
   * Speculative decoding: draft tokens from the conversation's text (and a draft model where one
   * is chosen) and verify several per pass. Output is unchanged; off only to compare speeds.
   */
  speculativeDecoding: boolean
  /** Per model id, the smaller model with the same vocabulary that drafts for it. */
  draftModels: Record<string, string>
  /** Per model id, how it is loaded where the user chose (Settings → Models); the rest is automatic. */
  modelLoadSettings: Record<string, ModelLoadSettings>
  /** The desktop window's last size and place; null: centred at the default size. */
  windowBounds: WindowBounds | null
  /** MCP servers, by name, as other desktop apps write them (the value of their `mcpServers`). */
  mcpServers: Record<string, McpServerConfig>
  /** A tool call that runs longer is ended; the model reads that it timed out. */
  toolTimeoutSeconds: number
  /** Tools the user allowed always, as 'server/tool': their calls run without asking. */
  alwaysAllowedTools: string[]
  /** Saved starting points for new chats ("assistants"), in the user's order. */
  presets: Preset[]
}

/**
 * A saved starting point for a chat: its system prompt, parameters and, where set, model, context
 * policy and tool servers. A new chat started from it copies them; later edits of the preset do
 * not reach chats already started.
 */
export interface Preset {
  /** A UUID. */
  id: string
  name: string
  systemPrompt: string
  params: Partial<GenerationParams>
  /** null: the default model. */
  modelId: string | null
  /** null: the default policy. */
  contextPolicy: ContextPolicy | null
  toolServers: string[]
}

/** One MCP server: a program started with stdio, or a streamable HTTP endpoint. */
export type McpServerConfig =
  | { command: string; args?: string[]; env?: Record<string, string>; cwd?: string; disabled?: boolean }
  | { url: string; headers?: Record<string, string>; disabled?: boolean }

/** An MCP server as the app runs it. */
export interface ToolServerStatus {
  name: string
  transport: 'stdio' | 'http'
  state: 'starting' | 'ready' | 'failed' | 'disabled'
  /** Its tools while ready; empty otherwise. */
  tools: ToolDefinition[]
  /** Why it failed (its last lines of stderr included); null otherwise. */
  error: string | null
}

/** The user's answer to a tool call waiting for approval. */
export type ToolDecision = 'once' | 'always' | 'deny'

export const DEFAULT_SETTINGS: Settings = {
  theme: 'system',
  defaultModelId: null,
  defaultSystemPrompt: '',
  defaultParams: {},
  defaultContextPolicy: 'drop-oldest',
  sendOnEnter: true,
  apiServerEnabled: false,
  apiServerPort: 8080,
  providerPreference: 'auto',
  threads: null,
  kvCacheBudgetBytes: null,
  fontSize: 15,
  idleUnloadMinutes: 15,
  speculativeDecoding: true,
  draftModels: {},
  modelLoadSettings: {},
  windowBounds: null,
  mcpServers: {},
  toolTimeoutSeconds: 60,
  alwaysAllowedTools: [],
  presets: [],
}

/** How an imported folder joins the library: copied in, or linked where it is. */
export type ImportMode = 'copy' | 'link'

export type ImportState = 'converting' | 'done' | 'failed' | 'cancelled'

/** A GGUF file being converted into a model folder; sent when it starts, per tensor, and when it ends. */
export interface ImportProgress {
  /** The file's absolute path: what cancelImport takes, and one import of it at a time. */
  source: string
  /** The model id (folder name) it becomes. */
  modelId: string
  state: ImportState
  /** Tensors written so far, of total; total is 0 until the converter has read the file's header. */
  done: number
  total: number
  /** Why it failed (state 'failed'), as error data. */
  error: { code: string; message: string } | null
}

/** A GGUF file another app keeps on this computer (LM Studio, Jan, Ollama), offered for import. */
export interface GgufCandidate {
  path: string
  /** As that app names it: the file's name, or Ollama's `model:tag`. */
  name: string
  app: 'LM Studio' | 'Jan' | 'Ollama'
  bytes: number
  /** The model id (folder name) an import gives it, so the UI can tell one already imported. */
  modelId: string
}

export interface RemoveResult {
  bytesFreed: number
  /** True when the whole model went (asked for, or its last variant was removed). */
  removedModel: boolean
}

// ── The desktop app: what the chat view, the picker and the shell exchange with main ──

export type ProviderPreference = 'auto' | ProviderName

/** One model's load settings; an absent field is automatic. They apply from its next load. */
export interface ModelLoadSettings {
  /** Tokens the model runs with; one past the model's own context runs at the model's. */
  contextLength?: number
  /** Weight file; absent, or one the folder no longer has: the best for the provider. */
  variant?: VariantName
  /** Tried first, then the CPU; absent: Settings → Engine's preference. */
  provider?: ProviderName
  /** Engine CPU threads; absent: Settings → Engine's. */
  threads?: number
  /** The KV cache's element type; absent: the variant's own (float16 halves a float32 variant's cache). */
  kvDtype?: KvDtype
  /** 4-bit matmuls with int8 activations (faster decode, perplexity within 0.5%); absent: on. */
  int8Activations?: boolean
}

export interface WindowBounds {
  x: number
  y: number
  width: number
  height: number
  maximized: boolean
}

/** What a new conversation may set; the rest comes from settings. */
export interface NewConversation {
  title?: string
  modelId?: string | null
  systemPrompt?: string
  params?: Partial<GenerationParams>
  contextPolicy?: ContextPolicy
  toolServers?: string[]
  folderId?: string | null
}

export interface ContextUsage {
  /**
   * Prompt plus reply tokens of the active branch's last reply with stats; for a reply whose
   * prompt did not fit (CONTEXT_OVERFLOW), that prompt's size, beyond contextLength.
   */
  usedTokens: number
  /** The context of the conversation's model; null when the model is unknown. */
  contextLength: number | null
}

/**
 * Where a reply being generated stands: waiting its turn for the engine (which runs one reply at
 * a time), its model loading, its prompt being read, its tokens being written.
 */
export type ReplyPhase = 'queued' | 'loading' | 'prefilling' | 'generating'

export interface ReplyState {
  conversationId: string
  messageId: string
  state: ReplyPhase
  /** Queued behind another chat's reply: that chat's title. */
  waitingFor?: string
}

/** A conversation as the chat view shows it: its settings and the active branch, root first. */
export interface ConversationView {
  conversation: Conversation
  branch: BranchEntry[]
  /** The reply being generated in this conversation right now; null when none is. */
  generatingMessageId: string | null
  /** Where that reply stands; null when none is generated. */
  replyState: ReplyState | null
  /** null until a reply on the active branch has stats. */
  context: ContextUsage | null
  /** Whether an interrupted reply can be carried on (Continue): not with a remote provider's model. */
  canContinue: boolean
  /**
   * What the next reply uses for each parameter the conversation leaves blank: the user's
   * defaults, else its model's generation_config.json, else DEFAULT_PARAMS ([TAG_PARAM_PRECEDENCE]).
   */
  inheritedParams: GenerationParams
}

/** What send and editMessage start: the stored user message and the reply row being streamed. */
export interface Turn {
  userMessage: Message
  reply: Message
}

/** A conversation as createConversation would make it, not stored (its id is ''), and what its blank parameters come to. */
export interface ConversationPreview {
  conversation: Conversation
  inheritedParams: GenerationParams
}

/** What startConversation stores: the conversation, created with its first message. */
export interface StartedConversation extends Turn {
  conversation: Conversation
}

/** A message being written, with its documents, as the model would take it. */
export interface TokenCount {
  tokens: number
  /** The context left once the message is in the conversation; null when the context is not known (no model, a remote one). */
  contextLeft: number | null
  /** About four characters a token, not the model's tokenizer: a remote model, or a local one not loaded or busy. */
  estimated: boolean
}

export interface DeleteResult {
  /** Epoch ms until which the matching undo (undoDeleteConversation, undoDeleteMessage, undoDeleteFolder) brings it back. */
  undoUntil: number
}

/** An export as a file: the desktop app saves it, the browser downloads it. */
export interface ExportedFile {
  fileName: string
  mimeType: string
  text: string
}

export type ModelState = 'unloaded' | 'loading' | 'loaded' | 'error'

/** The engine's model: sent on every change and returned by modelStatus. */
export interface ModelStatus {
  state: ModelState
  /** The model loading, loaded or that failed to load; null when unloaded. */
  modelId: string | null
  /** Set when loaded: variant, provider and why other providers were not used. */
  info: LoadedModelInfo | null
  /** Set when state is 'error'. */
  error: { code: string; message: string } | null
}

/** A catalog model with how it would fit this machine and whether it is installed. */
/** A repository the Hub's search found that Hearth can run: an ONNX export with its config and tokenizer. */
export interface HubModel {
  /** 'owner/name'. */
  repo: string
  downloads: number
  likes: number
  /** ISO time of its last commit; null when the Hub does not say. */
  lastModified: string | null
  /** It asks for its license to be accepted on the Hub first (a token is then needed to download it). */
  gated: boolean
  /** The ONNX variants its files offer, smallest kinds first. */
  variants: VariantName[]
}

export interface CatalogItem {
  entry: CatalogEntry
  fit: FitReport
  /** The library's id for it when a variant of it is installed; null otherwise. */
  installedModelId: string | null
}

/** Commands of the application menu and its shortcuts, carried out by the renderer. */
export type MenuCommand = 'new-chat' | 'search' | 'settings' | 'toggle-sidebar' | 'models'

// ── Remote providers and the API server ──

/** How a remote provider's API key is kept: encrypted by the OS, or in a file only this user may read. */
export type SecretStorage = 'os-encrypted' | 'plain-file'

/**
 * What a conversation's modelId holds to chat with a remote provider's model:
 * 'remote:<provider id>:<encoded name>'. Main makes and reads it; to the renderer it is opaque.
 */
export type RemoteModelId = `remote:${string}`

export interface RemoteModel {
  id: RemoteModelId
  /** The model's id on the provider's server. */
  name: string
}

/** An OpenAI-compatible server whose models chats can use. Its API key never leaves main. */
export interface RemoteProvider {
  id: string
  name: string
  /** Up to and including the version segment, e.g. http://localhost:11434/v1. */
  baseUrl: string
  models: RemoteModel[]
  /** Epoch ms when the model list was fetched. */
  modelsFetchedAt: number
  hasApiKey: boolean
  /** Where the key is kept; null when there is none. */
  keyStorage: SecretStorage | null
}

export interface NewRemoteProvider {
  /** Default: the address's host. */
  name?: string
  baseUrl: string
  apiKey?: string
}

/** Hearth's OpenAI-compatible server for other tools: on/off and port are in Settings, the rest here. */
export interface ApiServerStatus {
  /** Settings' apiServerEnabled. */
  enabled: boolean
  /** Base URL for OpenAI clients while listening, e.g. http://127.0.0.1:8080/v1; null otherwise. */
  url: string | null
  /** Why it is not listening although enabled (the port is taken, say). */
  error: string | null
  /** Listening on every interface, for other devices; requires the API key. */
  network: boolean
  /** While listening on the network: its base URL at each of this machine's network addresses, for other devices. */
  networkUrls: string[]
  /** What clients send as 'Authorization: Bearer <key>'; shown so the user can paste it into other tools. */
  apiKey: string | null
  /** Browser origins (scheme://host[:port]) whose pages may call the server. */
  allowedOrigins: string[]
}

export interface ApiServerPatch {
  /** Turning the network on without a key makes a random key. */
  network?: boolean
  /** null removes the key (refused while on the network). */
  apiKey?: string | null
  allowedOrigins?: string[]
}

/** What shape a reply must have (the OpenAI API's response_format, its schema unwrapped): kept to it by constrained decoding. */
export type ResponseFormat = { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; schema: Record<string, unknown> }
