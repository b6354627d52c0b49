// Reads Hearth's own JSON export back into an import plan.

import { z } from 'zod'
import { HEARTH_EXPORT_FORMAT, HEARTH_EXPORT_VERSION } from './export.ts'
import { invalid, parentsFirst, type ImportPlan, type PlannedConversation } from './import-plan.ts'
import { contextPolicySchema, describeIssue, generationStatsSchema, paramsPatchSchema } from './schemas.ts'

const messageSchema = z.object({
  id: z.string().min(1),
  parentId: z.string().min(1).nullable(),
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
  status: z.enum(['streaming', 'complete', 'interrupted', 'error']),
  stats: generationStatsSchema.nullable(),
  modelId: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: z.number().int(),
})

const conversationSchema = z.object({
  title: z.string().trim().min(1).max(500),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  modelId: z.string().nullable(),
  systemPrompt: z.string(),
  params: paramsPatchSchema,
  contextPolicy: contextPolicySchema,
  pinned: z.boolean(),
  archived: z.boolean(),
  activeLeafId: z.string().nullable(),
  messages: z.array(messageSchema),
})

export function isHearthExport(data: unknown): boolean {
  return typeof data === 'object' && data !== null && (data as { format?: unknown }).format === HEARTH_EXPORT_FORMAT
}

export function planHearthImport(data: unknown, fileName: string): ImportPlan {
  const version = (data as { version?: unknown }).version
  if (typeof version !== 'number' || version > HEARTH_EXPORT_VERSION) {
    throw invalid(fileName, `it is a Hearth export of format version ${String(version)}, and this Hearth reads up to ${HEARTH_EXPORT_VERSION}`)
  }
  const list = (data as { conversations?: unknown }).conversations
  if (!Array.isArray(list)) throw invalid(fileName, 'it has no "conversations" list')

  const conversations = list.map((raw: unknown, i): PlannedConversation => {
    const where = `${fileName}, conversation ${i + 1}`
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
    const ordered = parentsFirst(messages, `${where} ("${c.title}")`)
    return {
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
  })
  return { conversations, skippedMessages: 0 }
}
