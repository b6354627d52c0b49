// Import: recognises the file's format, plans it completely, then writes it in one transaction.

import type Database from 'better-sqlite3'
import type { ImportFormat, ImportResult } from '../../src-shared/types.ts'
import type { ConversationStore } from './conversations.ts'
import { planChatGptImport, isChatGptExport } from './import-chatgpt.ts'
import { isHearthExport, planHearthImport } from './import-hearth.ts'
import { invalid, type ImportPlan } from './import-plan.ts'
import type { MessageStore } from './messages.ts'

export function planImport(text: string, fileName: string, now: number): { format: ImportFormat; plan: ImportPlan } {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw invalid(fileName, `it is not valid JSON (${(err as Error).message})`)
  }
  if (isHearthExport(data)) return { format: 'hearth', plan: planHearthImport(data, fileName) }
  if (isChatGptExport(data)) return { format: 'chatgpt', plan: planChatGptImport(data as unknown[], fileName, now) }
  throw invalid(fileName, "it is neither a Hearth export nor ChatGPT's conversations.json")
}

/** Writes every planned conversation under new ids, or nothing if any write fails. */
export function writeImport(
  db: Database.Database,
  conversations: ConversationStore,
  messages: MessageStore,
  format: ImportFormat,
  plan: ImportPlan,
): ImportResult {
  return db.transaction((): ImportResult => {
    const conversationIds: string[] = []
    let count = 0
    for (const planned of plan.conversations) {
      const conversation = conversations.insert(planned.fields)
      const ids = new Map<string, string>()
      for (const m of planned.messages) {
        const parentId = m.parentKey === null ? null : (ids.get(m.parentKey) ?? null)
        ids.set(m.key, messages.insert({ ...m.fields, conversationId: conversation.id, parentId }).id)
      }
      const leaf = planned.activeKey === null ? undefined : ids.get(planned.activeKey)
      if (leaf !== undefined) conversations.setActiveLeaf(conversation.id, leaf)
      conversationIds.push(conversation.id)
      count += planned.messages.length
    }
    return { format, conversationIds, messages: count, skippedMessages: plan.skippedMessages }
  })()
}
