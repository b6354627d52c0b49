// Runtime shapes of the shared types the store reads from outside: settings, imports, patches.

import { z } from 'zod'
import type { ContextPolicy, DocumentContext, DocumentKind, GenerationParams, GenerationStats, McpServerConfig, ModelLoadSettings, Preset, Settings, ToolCall, ToolUse } from '../../src-shared/types.ts'

/** A folder name in the models directory (a remote model's id is one too): no separators, not '.' or '..'. */
export const modelIdSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^(?!\.{1,2}$)[^/\\\0]+$/, 'must be a model folder name')

/** The most milliseconds from 1970 that a JavaScript Date holds: anything further cannot be shown or exported. */
export const MAX_TIME_MS = 8.64e15

/** A moment as milliseconds since 1970. */
export const timeMsSchema = z.number().int().min(-MAX_TIME_MS).max(MAX_TIME_MS)

export const contextPolicySchema = z.enum(['stop', 'drop-oldest', 'truncate-middle']) satisfies z.ZodType<ContextPolicy>

const generationParamsSchema = z.strictObject({
  temperature: z.number().min(0),
  topK: z.number().int().min(0),
  topP: z.number().gt(0).max(1),
  minP: z.number().min(0).max(1),
  repetitionPenalty: z.number().gt(0),
  maxTokens: z.number().int().positive(),
  seed: z.number().int().nullable(),
  stop: z.array(z.string()),
}) satisfies z.ZodType<GenerationParams>

export const paramsPatchSchema = generationParamsSchema.partial()

const providerSchema = z.enum(['cuda', 'dml', 'coreml', 'webgpu', 'cpu', 'remote'])

export const generationStatsSchema = z.strictObject({
  promptTokens: z.number(),
  reusedTokens: z.number(),
  prefillMs: z.number(),
  prefillTokensPerSecond: z.number(),
  ttftMs: z.number(),
  queueMs: z.number().optional(),
  decodeTokensPerSecond: z.number(),
  generatedTokens: z.number(),
  stopReason: z.enum(['eos', 'stop-string', 'length', 'cancelled', 'error']),
  provider: providerSchema,
  droppedMessages: z.array(z.number().int()).optional(),
  droppedMessageIds: z.array(z.string()).optional(),
  speculation: z
    .strictObject({
      drafted: z.number().int().min(0),
      accepted: z.number().int().min(0),
      passes: z.number().int().min(0),
      sources: z.array(z.enum(['lookup', 'prediction', 'model'])),
    })
    .optional(),
}) satisfies z.ZodType<GenerationStats>

const stringRecord = z.record(z.string(), z.string())

/** One server of `mcpServers`: a command to start (stdio) or a URL (streamable HTTP), not both. */
export const mcpServerSchema = z.union([
  z.strictObject({
    command: z.string().min(1, 'command must not be empty'),
    args: z.array(z.string()).optional(),
    env: stringRecord.optional(),
    cwd: z.string().min(1).optional(),
    disabled: z.boolean().optional(),
    // Other apps' files carry a "type"; "stdio" is the only one that fits a command.
    type: z.literal('stdio').optional(),
  }).transform(({ type: _type, ...rest }) => rest),
  z.strictObject({
    url: z.url({ protocol: /^https?$/, error: 'url must be an http(s) URL' }),
    headers: stringRecord.optional(),
    disabled: z.boolean().optional(),
    type: z.enum(['http', 'streamable-http', 'streamableHttp']).optional(),
  }).transform(({ type: _type, ...rest }) => rest),
], { error: 'each server needs a "command" (with optional "args", "env", "cwd") or a "url" (with optional "headers")' }) satisfies z.ZodType<McpServerConfig, unknown>

/** A server's name: what the chats and the always-allowed tools refer to it by. */
export const mcpServerNameSchema = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'a server name may use letters, digits, "_", "-" and "." only')

export const toolCallSchema = z.strictObject({ id: z.string().min(1), name: z.string().min(1), arguments: z.string() }) satisfies z.ZodType<ToolCall>

export const toolUseSchema = z.strictObject({
  callId: z.string().min(1),
  name: z.string().min(1),
  server: z.string().min(1).nullable(),
  arguments: z.string(),
  state: z.enum(['approval', 'running', 'done']),
  durationMs: z.number().min(0).nullable(),
  truncatedFrom: z.number().int().min(0).optional(),
}) satisfies z.ZodType<ToolUse>

export const presetSchema = z.strictObject({
  id: z.guid(),
  name: z.string().trim().min(1, 'a preset needs a name').max(100),
  systemPrompt: z.string().max(100_000),
  params: paramsPatchSchema,
  modelId: modelIdSchema.nullable(),
  contextPolicy: contextPolicySchema.nullable(),
  toolServers: z.array(mcpServerNameSchema).max(64),
}) satisfies z.ZodType<Preset>

/** The shortest context a model may be set to run with: a chat needs room for a prompt and a reply. */
export const MIN_CONTEXT_LENGTH = 256

/**
 * One model's load settings. The model's own context length bounds `contextLength` too, but only
 * the library knows it: ModelService applies the setting at most at that length.
 */
export const modelLoadSettingsSchema = z.strictObject({
  // model-config.ts's MAX_CONTEXT_LENGTH: no model Hearth runs states more.
  contextLength: z.number().int().min(MIN_CONTEXT_LENGTH, `a context under ${MIN_CONTEXT_LENGTH} tokens leaves no room for a chat`).max(2 ** 24).optional(),
  variant: z.enum(['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4']).optional(),
  provider: z.enum(['cuda', 'dml', 'coreml', 'webgpu', 'cpu']).optional(),
  threads: z.number().int().min(1).max(1024).optional(),
  kvDtype: z.enum(['float32', 'float16']).optional(),
  int8Activations: z.boolean().optional(),
}) satisfies z.ZodType<ModelLoadSettings>

export const settingSchemas: { [K in keyof Settings]: z.ZodType<Settings[K]> } = {
  theme: z.enum(['system', 'light', 'dark']),
  defaultModelId: z.string().min(1).nullable(),
  defaultSystemPrompt: z.string(),
  defaultParams: paramsPatchSchema,
  defaultContextPolicy: contextPolicySchema,
  sendOnEnter: z.boolean(),
  apiServerEnabled: z.boolean(),
  apiServerPort: z.number().int().min(1).max(65535),
  providerPreference: z.enum(['auto', 'cuda', 'dml', 'coreml', 'webgpu', 'cpu']),
  threads: z.number().int().min(1).max(1024).nullable(),
  kvCacheBudgetBytes: z.number().int().positive().nullable(),
  fontSize: z.number().min(8).max(48),
  // A week at most: longer waits overflow setTimeout, which then fires at once.
  idleUnloadMinutes: z.number().int().min(0).max(10_080),
  speculativeDecoding: z.boolean(),
  // Model id → its draft model's id; the Api's schema narrows both to folder names.
  draftModels: z.record(z.string().min(1), z.string().min(1)),
  modelLoadSettings: z.record(z.string().min(1), modelLoadSettingsSchema),
  windowBounds: z
    .strictObject({
      x: z.number().int(),
      y: z.number().int(),
      width: z.number().int().positive(),
      height: z.number().int().positive(),
      maximized: z.boolean(),
    })
    .nullable(),
  mcpServers: z.record(mcpServerNameSchema, mcpServerSchema),
  toolTimeoutSeconds: z.number().int().min(1).max(3600),
  alwaysAllowedTools: z.array(z.string().min(3)),
  presets: z
    .array(presetSchema)
    .max(500)
    .refine((presets) => new Set(presets.map((p) => p.id)).size === presets.length, 'two presets have the same id'),
}

/** A document's id: the sha256 of the file's bytes, lowercase hex. */
export const documentIdSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 in lowercase hex')

export const documentKindSchema = z.enum(['text', 'markdown', 'code', 'csv', 'tsv', 'json', 'html', 'pdf', 'docx']) satisfies z.ZodType<DocumentKind>

const count = z.number().int().min(0)

export const documentContextSchema = z.object({
  mode: z.enum(['full', 'retrieval']).nullable(),
  reason: z.string(),
  passages: z.array(
    z
      .object({ documentId: documentIdSchema, name: z.string(), chunk: count, start: count, end: count })
      .refine((p) => p.end > p.start, { message: 'a passage must end after it starts', path: ['end'] }),
  ),
}) satisfies z.ZodType<DocumentContext>

/** The first problem zod found, as one readable line. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0]
  if (issue === undefined) return 'invalid value'
  const where = issue.path.length === 0 ? '' : `${issue.path.join('.')}: `
  return `${where}${issue.message}`
}
