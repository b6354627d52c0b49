// Deleting a message with everything below it, on every branch, with a window for undo.
// The subtree moves into a conversation of its own, deleted at once: hidden from the chat, from
// search and from export, its documents still attached, it is purged with deleted conversations
// once the window has passed ([TAG_DOCUMENT_LIFETIME] then releases what it alone attached).
// Only conversation_id changes, never content or status, so messages_fts is untouched [TAG_FTS_SYNC].

import type Database from 'better-sqlite3'
import { AppError } from '../../src-shared/errors.ts'
import type { BranchEntry, DeleteResult } from '../../src-shared/types.ts'
import type { ConversationStore } from './conversations.ts'
import type { MessageStore } from './messages.ts'

/** A deletion that can still be undone; kept in memory: start-up purges every deleted conversation. */
interface Removed {
  conversationId: string
  /** The deleted conversation that holds the subtree. */
  holdId: string
  /** The conversation's active leaf when the message was deleted, shown again by an undo. */
  leafId: string | null
  undoUntil: number
}

/** Within the conversation: a subtree removed earlier stays with its own undo. */
const SUBTREE = `WITH RECURSIVE subtree (id) AS (
  SELECT id FROM messages WHERE id = @id
  UNION ALL SELECT m.id FROM messages AS m JOIN subtree ON m.parent_id = subtree.id WHERE m.conversation_id = @conversationId
)`

export class MessageRemoval {
  readonly #db: Database.Database
  readonly #conversations: ConversationStore
  readonly #messages: MessageStore
  readonly #now: () => number
  readonly #removed = new Map<string, Removed>()
  readonly #streaming: Database.Statement<[{ id: string; conversationId: string }], { n: number }>
  readonly #move: Database.Statement<[{ id: string; conversationId: string; to: string }]>
  readonly #moveBack: Database.Statement<[string, string]>
  readonly #conversationOf: Database.Statement<[string], { conversation_id: string }>

  constructor(db: Database.Database, conversations: ConversationStore, messages: MessageStore, options: { now: () => number }) {
    this.#db = db
    this.#conversations = conversations
    this.#messages = messages
    this.#now = options.now
    this.#streaming = db.prepare(`${SUBTREE} SELECT count(*) AS n FROM messages WHERE id IN subtree AND status = 'streaming'`)
    this.#move = db.prepare(`${SUBTREE} UPDATE messages SET conversation_id = @to WHERE id IN subtree`)
    this.#moveBack = db.prepare('UPDATE messages SET conversation_id = ? WHERE conversation_id = ?')
    this.#conversationOf = db.prepare('SELECT conversation_id FROM messages WHERE id = ?')
  }

  /**
   * Removes the message and every message below it. An active branch through it moves to the
   * newest leaf under its parent (a sibling's branch, or the parent itself), or, for a first
   * message, to the newest leaf left in the conversation. `restore` brings it all back until `undoUntil`.
   */
  remove(messageId: string): DeleteResult & { branch: BranchEntry[] } {
    return this.#db.transaction(() => {
      const message = this.#messages.get(messageId)
      const conversation = this.#conversations.get(message.conversationId)
      if (this.#streaming.get({ id: messageId, conversationId: conversation.id })!.n > 0) {
        throw new AppError('CONFLICT', 'A message below this one is still being written: stop it first.')
      }
      const hold = this.#conversations.create({ title: 'Deleted messages', modelId: null, systemPrompt: '' })
      this.#move.run({ id: messageId, conversationId: conversation.id, to: hold.id })
      const { undoUntil } = this.#conversations.delete(hold.id)
      this.#removed.set(messageId, { conversationId: conversation.id, holdId: hold.id, leafId: conversation.activeLeafId, undoUntil })
      let branch: BranchEntry[]
      if (this.#holds(conversation.id, conversation.activeLeafId)) branch = this.#messages.branch(conversation.id)
      else if (message.parentId !== null) branch = this.#messages.switchBranch(conversation.id, message.parentId)
      else branch = this.#showNewest(conversation.id)
      return { undoUntil, branch }
    })()
  }

  /** The conversation a message was removed from, while its removal can be undone; null otherwise. */
  removedFrom(messageId: string): string | null {
    const removed = this.#removed.get(messageId)
    return removed === undefined || this.#now() > removed.undoUntil ? null : removed.conversationId
  }

  /** Brings a removed message and its subtree back, showing the branch that was active then. */
  restore(messageId: string): BranchEntry[] {
    return this.#db.transaction(() => {
      const removed = this.#removed.get(messageId)
      if (removed === undefined || this.#now() > removed.undoUntil) {
        throw new AppError('NOT_FOUND', 'This message can no longer be restored: the time to undo its deletion has passed.')
      }
      const { conversationId, holdId, leafId } = removed
      this.#conversations.get(conversationId)
      const { parentId } = this.#messages.get(messageId)
      if (parentId !== null && !this.#holds(conversationId, parentId)) {
        throw new AppError('NOT_FOUND', 'This message can no longer be restored: the message it answered was deleted too.')
      }
      this.#moveBack.run(conversationId, holdId)
      this.#removed.delete(messageId)
      return this.#messages.switchBranch(conversationId, leafId !== null && this.#holds(conversationId, leafId) ? leafId : messageId)
    })()
  }

  #holds(conversationId: string, messageId: string | null): boolean {
    return messageId !== null && this.#conversationOf.get(messageId)?.conversation_id === conversationId
  }

  #showNewest(conversationId: string): BranchEntry[] {
    const branch = this.#messages.branch(conversationId)
    const leaf = branch.at(-1)?.message.id
    return leaf === undefined ? [] : this.#messages.switchBranch(conversationId, leaf)
  }
}
