// Reads ChatGPT's data export (conversations.json) into an import plan. Each conversation is
// a tree in `mapping` (node id -> { message, parent, children }); `current_node` is the leaf
// the user last saw. Only visible user and assistant text is kept; a skipped node's children
// hang under its nearest kept ancestor.

import { z } from 'zod'
import type { Role } from '../../src-shared/types.ts'
import { invalid, parentsFirst, type PlannedConversation, type PlannedMessage } from './import-plan.ts'
import { describeIssue, modelIdSchema, timeMsSchema } from './schemas.ts'

const messageSchema = z.looseObject({
  author: z.looseObject({ role: z.string() }),
  content: z.looseObject({ content_type: z.string(), parts: z.array(z.unknown()).nullish() }),
  create_time: z.number().nullish(),
  recipient: z.string().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
})

const nodeSchema = z.looseObject({
  message: messageSchema.nullish(),
  parent: z.string().nullish(),
})

const conversationSchema = z.looseObject({
  title: z.string().nullish(),
  create_time: z.number().nullish(),
  update_time: z.number().nullish(),
  mapping: z.record(z.string(), nodeSchema),
  current_node: z.string().nullish(),
  is_archived: z.boolean().nullish(),
})

type ChatGptMessage = z.infer<typeof messageSchema>
type ChatGptNode = z.infer<typeof nodeSchema>

/** The first item of the file decides its format: a ChatGPT export is a list of conversations with a `mapping`. */
export function isChatGptConversation(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'mapping' in value
}

/** The `index`th conversation of the file (from 0), and how many of its messages Hearth cannot show. */
export function planChatGptConversation(
  raw: unknown,
  index: number,
  fileName: string,
  now: number,
): { conversation: PlannedConversation; skipped: number } {
  let where = `${fileName}, conversation ${index + 1}`
  const parsed = conversationSchema.safeParse(raw)
  if (!parsed.success) throw invalid(where, describeIssue(parsed.error))
  const c = parsed.data
  const title = c.title?.trim().slice(0, 500) || 'Imported chat'
  where += ` ("${title}")`
  const createdAt = milliseconds(c.create_time, where, 'create_time') ?? milliseconds(c.update_time, where, 'update_time') ?? now

  const nodes = new Map(Object.entries(c.mapping))
  const kept = new Map<string, PlannedMessage['fields']>()
  let skipped = 0
  for (const [key, node] of nodes) {
    if (node.parent != null && !nodes.has(node.parent)) {
      throw invalid(where, `message ${key} replies to ${node.parent}, which is not in the file`)
    }
    if (node.message == null) continue
    const fields = toFields(node.message, createdAt, `${where}, message ${key}`)
    if (fields === null) skipped += 1
    else kept.set(key, fields)
  }
  const nearestKept = keptAncestors(nodes, kept, where)
  // Walking up from every node finds any loop in the tree, not only those under kept turns.
  for (const key of nodes.keys()) nearestKept(key)
  const messages: PlannedMessage[] = [...kept]
    .map(([key, fields]) => ({ key, parentKey: nearestKept(nodes.get(key)?.parent ?? null), fields }))
    .sort((a, b) => a.fields.createdAt - b.fields.createdAt)
  const current = c.current_node != null && nodes.has(c.current_node) ? c.current_node : null
  const conversation: PlannedConversation = {
    where,
    fields: {
      title,
      createdAt,
      updatedAt: milliseconds(c.update_time, where, 'update_time') ?? createdAt,
      modelId: null,
      systemPrompt: '',
      params: {},
      contextPolicy: 'drop-oldest',
      pinned: false,
      toolServers: [],
      archived: c.is_archived === true,
      folderId: null,
    },
    folderKey: null,
    messages: parentsFirst(messages, where),
    activeKey: nearestKept(current),
  }
  return { conversation, skipped }
}

/** ChatGPT's seconds as Hearth's milliseconds; a time no date can hold is refused by name. */
function milliseconds(time: number | null | undefined, where: string, field: string): number | null {
  if (time == null) return null
  const parsed = timeMsSchema.safeParse(Math.round(time * 1000))
  if (!parsed.success) throw invalid(where, `${field} ${time} is not a time (seconds since 1970)`)
  return parsed.data
}

/** A visible user or assistant text turn; null for what Hearth cannot show (tools, images only, hidden turns). */
function toFields(message: ChatGptMessage, fallbackTime: number, where: string): PlannedMessage['fields'] | null {
  const role = message.author.role
  if (role !== 'user' && role !== 'assistant') return null
  if (message.recipient != null && message.recipient !== 'all') return null
  if (message.metadata?.['is_visually_hidden_from_conversation'] === true) return null
  const type = message.content.content_type
  if (type !== 'text' && type !== 'multimodal_text') return null
  const text = (message.content.parts ?? []).filter((p): p is string => typeof p === 'string').join('\n\n')
  if (text === '') return null
  const slug = message.metadata?.['model_slug']
  return {
    role: role satisfies Role,
    content: text,
    status: 'complete',
    stats: null,
    modelId: role === 'assistant' && typeof slug === 'string' ? modelId(slug, where) : null,
    error: null,
    createdAt: milliseconds(message.create_time, where, 'create_time') ?? fallbackTime,
  }
}

/** The model a reply names, held to the rule the Api holds model ids to. */
function modelId(slug: string, where: string): string {
  const parsed = modelIdSchema.safeParse(slug)
  if (!parsed.success) throw invalid(where, `model_slug ${JSON.stringify(slug.slice(0, 80))} ${describeIssue(parsed.error)}`)
  return parsed.data
}

/** Maps a node id to itself when kept, else to its nearest kept ancestor (null: none). */
function keptAncestors(
  nodes: Map<string, ChatGptNode>,
  kept: Map<string, unknown>,
  where: string,
): (key: string | null) => string | null {
  const memo = new Map<string, string | null>()
  return (start) => {
    const chain = new Set<string>()
    let found: string | null = null
    for (let key: string | null = start; key !== null; key = nodes.get(key)?.parent ?? null) {
      const known = memo.get(key)
      if (known !== undefined) {
        found = known
        break
      }
      if (kept.has(key)) {
        found = key
        break
      }
      if (chain.has(key)) throw invalid(where, `message ${key} is its own ancestor`)
      chain.add(key)
    }
    for (const key of chain) memo.set(key, found)
    return found
  }
}
