// What an importer hands to the writer: conversations as trees keyed by the source's ids.

import { AppError } from '../../src-shared/errors.ts'
import type { Conversation, DocumentText, Folder, Message, Preset } from '../../src-shared/types.ts'

export interface PlannedMessage {
  /** The message's id in the source file. */
  key: string
  parentKey: string | null
  fields: Omit<Message, 'id' | 'conversationId' | 'parentId'>
}

export interface PlannedConversation {
  /** The conversation in the file, for errors: `conversations.json, conversation 3 ("Title")`. */
  where: string
  /** Written unfiled (`fields.folderId` null) and filed once the import commits, when this folder is here then. */
  fields: Omit<Conversation, 'id' | 'activeLeafId'>
  /** The folder's id in the file: one of the plan's folders, or one already here; null: unfiled. */
  folderKey: string | null
  /** Parents before children. */
  messages: PlannedMessage[]
  activeKey: string | null
}

export interface ImportPlan {
  conversations: PlannedConversation[]
  skippedMessages: number
  /** The documents the planned messages attach, by id, with the file's info and text. */
  documents: ReadonlyMap<string, DocumentText>
  /** Presets the file carries (a Hearth export of a whole history); those whose id is already here are kept as they are here. */
  presets: Preset[]
  /**
   * Folders the file carries, in its order. Merged by id: one already here is kept as it is here
   * (its chats from the file join it), one that is not is added after the folders here.
   */
  folders: Folder[]
}

export function invalid(where: string, problem: string): AppError {
  return new AppError('IMPORT_INVALID', `Nothing was imported: ${where}: ${problem}`)
}

/**
 * Orders messages parents first. Every parentKey must name a message of the list; a parent
 * chain that loops is refused, with `where` naming the conversation in the error.
 */
export function parentsFirst(messages: PlannedMessage[], where: string): PlannedMessage[] {
  const byKey = new Map<string, PlannedMessage>()
  for (const m of messages) {
    if (byKey.has(m.key)) throw invalid(where, `message id ${m.key} appears twice`)
    byKey.set(m.key, m)
  }
  const placed = new Set<string>()
  const ordered: PlannedMessage[] = []
  for (const m of messages) {
    const chain: PlannedMessage[] = []
    const onChain = new Set<string>()
    for (let at: PlannedMessage | undefined = m; at !== undefined && !placed.has(at.key); ) {
      if (onChain.has(at.key)) throw invalid(where, `message ${at.key} is its own ancestor`)
      onChain.add(at.key)
      chain.push(at)
      if (at.parentKey === null) break
      const parent = byKey.get(at.parentKey)
      if (parent === undefined) throw invalid(where, `message ${at.key} replies to ${at.parentKey}, which is not in the file`)
      at = parent
    }
    for (const c of chain.reverse()) {
      placed.add(c.key)
      ordered.push(c)
    }
  }
  return ordered
}
