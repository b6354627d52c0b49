// Reads Hearth's own JSON export back into an import plan.

import { z } from 'zod'
import { MAX_DOCUMENTS_PER_MESSAGE, type DocumentInfo, type DocumentText, type Folder, type Preset } from '../../src-shared/types.ts'
import { HEARTH_EXPORT_FORMAT, HEARTH_EXPORT_VERSION } from './export.ts'
import { invalid, parentsFirst, type PlannedConversation, type PlannedMessage } from './import-plan.ts'
import {
  contextPolicySchema,
  describeIssue,
  documentContextSchema,
  documentIdSchema,
  documentKindSchema,
  generationStatsSchema,
  mcpServerNameSchema,
  modelIdSchema,
  paramsPatchSchema,
  settingSchemas,
  timeMsSchema,
  toolCallSchema,
  toolUseSchema,
} from './schemas.ts'

const count = z.number().int().min(0)

const documentSchema = z.object({
  id: documentIdSchema,
  name: z.string(),
  kind: documentKindSchema,
  mimeType: z.string(),
  bytes: count,
  // Taken from the text when written: the file's count is only checked for its shape.
  chars: count,
  pages: count.nullable(),
  createdAt: timeMsSchema,
  text: z.string(),
})

const documentsSchema = z.object({ documents: z.array(documentSchema).optional() })

const presetsSchema = settingSchemas.presets

const folderSchema = z.object({
  id: z.guid(),
  name: z.string().trim().min(1).max(200),
  position: count,
  collapsed: z.boolean(),
  defaultPresetId: z.guid().nullable(),
  createdAt: timeMsSchema,
}) satisfies z.ZodType<Folder>

const foldersSchema = z.array(folderSchema).max(1000)

const messageSchema = z.object({
  id: z.string().min(1),
  parentId: z.string().min(1).nullable(),
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string(),
  status: z.enum(['streaming', 'complete', 'interrupted', 'error']),
  stats: generationStatsSchema.nullable(),
  modelId: modelIdSchema.nullable(),
  error: z.string().nullable(),
  createdAt: timeMsSchema,
  documents: z.array(z.object({ id: documentIdSchema, name: z.string() })).max(MAX_DOCUMENTS_PER_MESSAGE).optional(),
  documentContext: documentContextSchema.nullable().optional(),
  toolCalls: z.array(toolCallSchema).max(128).optional(),
  tool: toolUseSchema.optional(),
  edited: z.literal(true).optional(),
}).refine((m) => (m.role === 'tool') === (m.tool !== undefined), { message: 'a tool message, and only one, names the call it answers', path: ['tool'] })

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
  toolServers: z.array(mcpServerNameSchema).max(64).optional(),
  folderId: z.guid().nullable().optional(),
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

/** The file's documents by id, from its outer object's `documents`; a version 1 file has none. */
export function planHearthDocuments(raw: unknown, fileName: string): Map<string, DocumentText> {
  const parsed = documentsSchema.safeParse({ documents: raw })
  if (!parsed.success) throw invalid(fileName, describeIssue(parsed.error))
  const documents = new Map<string, DocumentText>()
  for (const { text, ...info } of parsed.data.documents ?? []) {
    if (documents.has(info.id)) throw invalid(fileName, `document ${info.id} appears twice`)
    documents.set(info.id, { info, text })
  }
  return documents
}

/** The file's presets, from its outer object's `presets`; a file before version 3, or one conversation's export, has none. */
export function planHearthPresets(raw: unknown, fileName: string): Preset[] {
  const parsed = presetsSchema.safeParse(raw ?? [])
  if (!parsed.success) throw invalid(fileName, `presets: ${describeIssue(parsed.error)}`)
  return parsed.data
}

/** The file's folders in its order, from its outer object's `folders`; a file before version 4, or one conversation's export, has none. */
export function planHearthFolders(raw: unknown, fileName: string): Folder[] {
  const parsed = foldersSchema.safeParse(raw ?? [])
  if (!parsed.success) throw invalid(fileName, `folders: ${describeIssue(parsed.error)}`)
  const ids = new Set<string>()
  for (const { id } of parsed.data) {
    if (ids.has(id)) throw invalid(fileName, `folder ${id} appears twice`)
    ids.add(id)
  }
  return parsed.data.toSorted((a, b) => a.position - b.position)
}

/**
 * The `index`th conversation of the file (from 0). Each document a message attaches must be one of
 * the file's `documents`, and each passage it quotes one that a message of the conversation attaches.
 */
export function planHearthConversation(
  raw: unknown,
  index: number,
  fileName: string,
  documents: ReadonlyMap<string, DocumentText>,
): PlannedConversation {
  const where = `${fileName}, conversation ${index + 1}`
  const parsed = conversationSchema.safeParse(raw)
  if (!parsed.success) throw invalid(where, describeIssue(parsed.error))
  const c = parsed.data
  const named = `${where} ("${c.title}")`
  const attached = new Set(c.messages.flatMap((m) => (m.documents ?? []).map((d) => d.id)))
  const messages = c.messages.map((m): PlannedMessage => {
    const fields: PlannedMessage['fields'] = {
      role: m.role,
      content: m.content,
      // A reply still streaming when exported was cut off there.
      status: m.status === 'streaming' ? ('interrupted' as const) : m.status,
      stats: m.stats,
      modelId: m.modelId,
      error: m.error,
      createdAt: m.createdAt,
    }
    const own = attachedDocuments(m, documents, named)
    if (own.length > 0) fields.documents = own
    for (const p of m.documentContext?.passages ?? []) {
      if (!attached.has(p.documentId)) throw invalid(named, `message ${m.id} quotes document ${p.documentId}, which no message of the conversation attaches`)
    }
    if (m.documentContext != null) fields.documentContext = m.documentContext
    if (m.toolCalls !== undefined && m.toolCalls.length > 0) fields.toolCalls = m.toolCalls
    // A call still waiting or running when exported never returned.
    if (m.tool !== undefined) fields.tool = m.status === 'streaming' ? { ...m.tool, state: 'done' } : m.tool
    if (m.edited === true && m.role === 'assistant') fields.edited = true
    return { key: m.id, parentKey: m.parentId, fields }
  })
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
      toolServers: c.toolServers ?? [],
      folderId: null,
    },
    folderKey: c.folderId ?? null,
    messages: ordered,
    activeKey: c.activeLeafId !== null && ordered.some((m) => m.key === c.activeLeafId) ? c.activeLeafId : null,
  }
}

/** The message's documents as the file's infos under the names attached; IMPORT_INVALID for one not in the file. */
function attachedDocuments(
  message: { id: string; documents?: { id: string; name: string }[] | undefined },
  documents: ReadonlyMap<string, DocumentText>,
  where: string,
): DocumentInfo[] {
  const seen = new Set<string>()
  return (message.documents ?? []).map(({ id, name }) => {
    const document = documents.get(id)
    if (document === undefined) throw invalid(where, `message ${message.id} attaches document ${id} ("${name}"), which is not in the file`)
    if (seen.has(id)) throw invalid(where, `message ${message.id} attaches document ${id} twice`)
    seen.add(id)
    return { ...document.info, name }
  })
}
