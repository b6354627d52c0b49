// Reads Hearth's own JSON export back into an import plan.

import { z } from 'zod'
import { HEARTH_EXPORT_FORMAT, HEARTH_EXPORT_VERSION } from './export.ts'
import { invalid, parentsFirst, type PlannedConversation } from './import-plan.ts'
import { contextPolicySchema, describeIssue, generationStatsSchema, modelIdSchema, paramsPatchSchema, timeMsSchema } from './schemas.ts'

const messageSchema = z.object({
  id: z.string().min(1),
  parentId: z.string().min(1).nullable(),
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
  status: z.enum(['streaming', 'complete', 'interrupted', 'error']),
  stats: generationStatsSchema.nullable(),
  modelId: modelIdSchema.nullable(),
  error: z.string().nullable(),
  createdAt: timeMsSchema,
})

const conversationSchema = z.object({
  title: z.string().trim().min(1).max(500),
  createdAt: timeMsSchema,
  updatedAt: timeMsSchema,
  modelId: modelIdSchema.nullable(),
  systemPrompt: z.string(),
  params: paramsPatchSchema,
  contextPolicy: contextPolicySchema,
  pinned: z.boolean(),
  archived: z.boolean(),
  activeLeafId: z.string().nullable(),
  messages: z.array(messageSchema),
})

/** The file's outer object without its conversations decides its format. */
export function isHearthExport(header: Record<string, unknown>): boolean {
  return header['format'] === HEARTH_EXPORT_FORMAT
}

/** A Hearth export this version can read; throws IMPORT_INVALID naming the version otherwise. */
export function checkHearthVersion(header: Record<string, unknown>, fileName: string): void {
  const version = header['version']
  if (typeof version !== 'number' || version > HEARTH_EXPORT_VERSION) {
    throw invalid(fileName, `it is a Hearth export of format version ${String(version)}, and this Hearth reads up to ${HEARTH_EXPORT_VERSION}`)
  }
}

/** The `index`th conversation of the file (from 0). */
export function planHearthConversation(raw: unknown, index: number, fileName: string): PlannedConversation {
  const where = `${fileName}, conversation ${index + 1}`
  const parsed = conversationSchema.safeParse(raw)
  if (!parsed.success) throw invalid(where, describeIssue(parsed.error))
  const c = parsed.data
  const messages = c.messages.map((m) => ({
    key: m.id,
    parentKey: m.parentId,
    fields: {
      role: m.role,
      content: m.content,
      // A reply still streaming when exported was cut off there.
      status: m.status === 'streaming' ? ('interrupted' as const) : m.status,
      stats: m.stats,
      modelId: m.modelId,
      error: m.error,
      createdAt: m.createdAt,
    },
  }))
  const named = `${where} ("${c.title}")`
  const ordered = parentsFirst(messages, named)
  return {
    where: named,
    fields: {
      title: c.title,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
      modelId: c.modelId,
      systemPrompt: c.systemPrompt,
      params: c.params,
      contextPolicy: c.contextPolicy,
      pinned: c.pinned,
      archived: c.archived,
    },
    messages: ordered,
    activeKey: c.activeLeafId !== null && ordered.some((m) => m.key === c.activeLeafId) ? c.activeLeafId : null,
  }
}
