// Argument schemas for every Api method: payloads are validated here, where they enter main.

import { z } from 'zod'
import type { Api, ApiMethod } from '../../src-shared/api.ts'
import { MAX_DOCUMENT_BYTES, MAX_DOCUMENTS_PER_MESSAGE } from '../../src-shared/types.ts'
import type {
  ApiServerPatch,
  ConversationPatch,
  FolderPatch,
  GenerationParams,
  NewConversation,
  NewRemoteProvider,
  Settings,
  VariantName,
} from '../../src-shared/types.ts'
import { apiKeySchema, originSchema } from '../api-server/control.ts'
import { contextPolicySchema, mcpServerNameSchema, modelIdSchema, modelLoadSettingsSchema, settingSchemas } from '../store/schemas.ts'

type ArgsSchemas = { [M in ApiMethod]: z.ZodType<Parameters<Api[M]>> }

/** What one chat message may carry; the store holds more (imports), but a typed message stops here. */
export const MAX_MESSAGE_BYTES = 1024 * 1024
/** ChatGPT exports run to tens of megabytes; the WebSocket bridge caps a frame lower still. */
export const MAX_IMPORT_CHARS = 64 * 1024 * 1024
const MAX_TITLE = 500
const MAX_SYSTEM_PROMPT = 100_000
const MAX_PATH = 4096

/** A file or folder on this machine, as the user typed or picked it. */
const localPath = z.string().min(1).max(MAX_PATH).refine((s) => !s.includes('\0'), 'must be a path')

/** Conversations, messages and download jobs: the store's and the queue's randomUUID() ids. */
const uuid = z.guid('must be an id as Hearth gives them out')
/** Imports hold model ids to the same rule (store/schemas.ts). */
const modelId = modelIdSchema
const variant = z.enum(['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4']) satisfies z.ZodType<VariantName>
const messageText = z
  .string()
  .min(1)
  .refine((s) => s.trim() !== '', 'must not be blank')
  .refine((s) => Buffer.byteLength(s) <= MAX_MESSAGE_BYTES, `must be at most ${MAX_MESSAGE_BYTES} bytes`)
/** A stored document: the sha256 of its file, hex. */
const documentId = z.string().regex(/^[0-9a-f]{64}$/, 'must be a document id as attachDocument gives them out')
const documentIds = z.array(documentId).max(MAX_DOCUMENTS_PER_MESSAGE)
/** Names an attachment in progress: the renderer's own id, for progress and cancel. */
const attachId = z.string().min(1).max(100)
const fileName = z.string().min(1).max(255).refine((s) => !s.includes('\0'), 'must be a file name')
/** A file's bytes as base64, at most MAX_DOCUMENT_BYTES of them. */
const fileBase64 = z
  .string()
  .max(Math.ceil(MAX_DOCUMENT_BYTES / 3) * 4, `must be a file of at most ${MAX_DOCUMENT_BYTES / 2 ** 20} MiB`)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
/** A Hub repository id: owner/name. */
const hubRepo = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/, 'must be a Hub repository id like owner/name')
const title = z.string().min(1).max(MAX_TITLE)
const systemPrompt = z.string().max(MAX_SYSTEM_PROMPT)

const paramsPatch = z.strictObject({
  temperature: z.number().min(0).max(5),
  topK: z.number().int().min(0).max(10_000),
  topP: z.number().gt(0).max(1),
  minP: z.number().min(0).max(1),
  repetitionPenalty: z.number().gt(0).max(10),
  maxTokens: z.number().int().min(1).max(1_000_000),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable(),
  stop: z.array(z.string().min(1).max(256)).max(16),
}).partial() satisfies z.ZodType<Partial<GenerationParams>>

const newConversation = z.strictObject({
  title: title.optional(),
  modelId: modelId.nullable().optional(),
  systemPrompt: systemPrompt.optional(),
  params: paramsPatch.optional(),
  contextPolicy: contextPolicySchema.optional(),
  toolServers: z.array(mcpServerNameSchema).max(64).optional(),
  folderId: uuid.nullable().optional(),
}) satisfies z.ZodType<NewConversation>

const conversationPatch = newConversation.extend({
  pinned: z.boolean().optional(),
  archived: z.boolean().optional(),
}) satisfies z.ZodType<ConversationPatch>

const folderName = z.string().trim().min(1, 'must not be blank').max(200)
const folderPatch = z.strictObject({
  name: folderName.optional(),
  collapsed: z.boolean().optional(),
  defaultPresetId: uuid.nullable().optional(),
  position: z.number().int().min(0).max(10_000).optional(),
}) satisfies z.ZodType<FolderPatch>

const listOptions = z.strictObject({
  archived: z.boolean().optional(),
  limit: z.number().int().min(1).max(10_000).optional(),
  offset: z.number().int().min(0).optional(),
})

// The store's schemas, with the same bounds that conversations get where settings supply defaults.
const settingsPatch = z
  .strictObject({
    ...settingSchemas,
    defaultModelId: modelId.nullable(),
    defaultSystemPrompt: systemPrompt,
    defaultParams: paramsPatch,
    draftModels: z
      .record(modelId, modelId)
      .refine((pairs) => Object.keys(pairs).length <= 1000, 'names at most 1000 models')
      .refine((pairs) => Object.entries(pairs).every(([model, draft]) => model !== draft), 'a model cannot draft for itself'),
    modelLoadSettings: z
      .record(modelId, modelLoadSettingsSchema)
      .refine((models) => Object.keys(models).length <= 1000, 'names at most 1000 models'),
    mcpServers: settingSchemas.mcpServers.refine((servers) => Object.keys(servers).length <= 64, 'names at most 64 servers'),
    alwaysAllowedTools: z.array(z.string().min(3).max(300)).max(1000),
  })
  .partial() satisfies z.ZodType<Partial<Settings>>

const remoteProviderId = z.string().regex(/^[0-9a-f]{8}$/, 'must be a remote provider id')
const newRemoteProvider = z.strictObject({
  name: z.string().max(100).optional(),
  baseUrl: z.string().min(1).max(2000),
  apiKey: z.string().max(1000).optional(),
}) satisfies z.ZodType<NewRemoteProvider>
const apiServerPatch = z.strictObject({
  network: z.boolean().optional(),
  apiKey: apiKeySchema.nullable().optional(),
  allowedOrigins: z.array(originSchema).max(50).optional(),
}) satisfies z.ZodType<ApiServerPatch>

export const argsSchemas: ArgsSchemas = {
  appInfo: z.tuple([]),

  listConversations: z.tuple([listOptions.optional()]),
  createConversation: z.tuple([newConversation.optional()]),
  startConversation: z.tuple([newConversation, messageText, documentIds.optional()]),
  previewConversation: z.tuple([newConversation]),
  getConversation: z.tuple([uuid]),
  updateConversation: z.tuple([uuid, conversationPatch]),
  deleteConversation: z.tuple([uuid]),
  undoDeleteConversation: z.tuple([uuid]),
  listFolders: z.tuple([]),
  createFolder: z.tuple([folderName]),
  updateFolder: z.tuple([uuid, folderPatch]),
  deleteFolder: z.tuple([uuid]),
  undoDeleteFolder: z.tuple([uuid]),

  send: z.tuple([uuid, messageText, documentIds.optional()]),
  countTokens: z.tuple([
    z.union([uuid, newConversation]),
    // Blank while the user types: the documents alone may be counted.
    z.string().refine((s) => Buffer.byteLength(s) <= MAX_MESSAGE_BYTES, `must be at most ${MAX_MESSAGE_BYTES} bytes`),
    documentIds,
  ]),
  attachDocument: z.tuple([attachId, fileName, fileBase64]),
  cancelAttach: z.tuple([attachId]),
  getDocument: z.tuple([documentId]),
  stop: z.tuple([uuid]),
  regenerate: z.tuple([uuid]),
  editMessage: z.tuple([uuid, messageText, documentIds.optional()]),
  switchBranch: z.tuple([uuid]),
  continueReply: z.tuple([uuid]),
  editReply: z.tuple([uuid, messageText]),
  deleteMessage: z.tuple([uuid]),
  undoDeleteMessage: z.tuple([uuid]),

  search: z.tuple([z.string().min(1).max(500), z.number().int().min(1).max(500).optional(), uuid.optional()]),
  exportConversations: z.tuple([uuid.nullable(), z.enum(['json', 'markdown'])]),
  importConversations: z.tuple([z.string().min(1).max(MAX_IMPORT_CHARS), z.string().min(1).max(255).optional()]),

  getSettings: z.tuple([]),
  setSettings: z.tuple([settingsPatch]),

  listModels: z.tuple([]),
  modelsLastUsed: z.tuple([]),
  openModelFolder: z.tuple([modelId]),
  modelStatus: z.tuple([]),
  loadModel: z.tuple([modelId, variant.optional()]),
  unloadModel: z.tuple([]),
  draftCandidates: z.tuple([modelId]),
  modelFit: z.tuple([
    modelId,
    z.strictObject({ context: z.number().int().min(1).max(10_000_000).optional(), variant: variant.optional(), kvDtype: z.enum(['float32', 'float16']).optional() }).optional(),
  ]),
  pickModelFolder: z.tuple([]),
  pickGgufFile: z.tuple([]),
  importModel: z.tuple([localPath, z.enum(['copy', 'link']), z.string().min(1).max(255).optional()]),
  cancelImport: z.tuple([localPath]),
  findGgufModels: z.tuple([]),
  removeModel: z.tuple([modelId, variant.optional()]),
  catalog: z.tuple([]),
  searchHub: z.tuple([z.string().trim().min(1, 'must not be blank').max(200)]),
  describeHubModel: z.tuple([hubRepo]),
  startDownload: z.tuple([hubRepo, variant]),
  cancelDownload: z.tuple([uuid]),
  pauseDownload: z.tuple([uuid]),
  listPartialDownloads: z.tuple([]),
  discardPartialDownload: z.tuple([modelId, variant]),
  listDownloads: z.tuple([]),

  listRemoteProviders: z.tuple([]),
  addRemoteProvider: z.tuple([newRemoteProvider]),
  refreshRemoteProvider: z.tuple([remoteProviderId]),
  removeRemoteProvider: z.tuple([remoteProviderId]),
  apiServerStatus: z.tuple([]),
  configureApiServer: z.tuple([apiServerPatch]),
  listToolServers: z.tuple([]),
  restartToolServer: z.tuple([mcpServerNameSchema]),
  answerToolCall: z.tuple([uuid, z.enum(['once', 'always', 'deny'])]),
  cancelToolCall: z.tuple([uuid]),
}
