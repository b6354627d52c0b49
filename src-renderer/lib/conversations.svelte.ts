// The sidebar's conversations: the list (or the archive), grouping, and every change to one.

import type { Conversation, ConversationPatch } from '../../src-shared/types.ts'
import { api } from './api.ts'
import { chat } from './chat.svelte.ts'
import { groupConversations, type ConversationGroup } from './date-groups.ts'
import { DRAFT_ID } from './draft.ts'
import { ui } from './ui.svelte.ts'

class ConversationsState {
  list = $state<Conversation[]>([])
  /** The sidebar shows the archive instead of the main list. */
  showArchived = $state(false)
  /** Re-read so "Today" turns into "Yesterday" at midnight without a reload. */
  now = $state(Date.now())
  /** Conversations with a reply streaming now, for the sidebar's activity dot. */
  streaming = $state<Record<string, boolean>>({})

  /** By date: the archive whole, the main list's chats in no folder (a folder lists its own). */
  get groups(): ConversationGroup[] {
    return groupConversations(this.showArchived ? this.list : this.list.filter((c) => c.folderId === null), this.now)
  }

  /** The main list's chats in the folder, in its order. */
  inFolder(folderId: string): Conversation[] {
    return this.list.filter((c) => c.folderId === folderId)
  }

  constructor() {
    api.on('conversationChanged', ({ conversationId, conversation }) => this.#apply(conversationId, conversation))
    api.on('token', ({ conversationId }) => {
      if (!this.streaming[conversationId]) this.streaming[conversationId] = true
    })
    api.on('done', ({ conversationId }) => delete this.streaming[conversationId])
    setInterval(() => (this.now = Date.now()), 60_000)
  }

  async refresh(): Promise<void> {
    this.list = await api.listConversations({ archived: this.showArchived })
  }

  async setShowArchived(value: boolean): Promise<void> {
    this.showArchived = value
    await this.refresh()
  }

  async update(id: string, patch: ConversationPatch): Promise<Conversation> {
    // A new chat not stored yet keeps its settings for its first message.
    if (id === DRAFT_ID) return chat.patchDraft(patch)
    const conversation = await api.updateConversation(id, patch)
    this.#apply(id, conversation)
    // Archiving takes a chat out of the list: it can be put back at once, as a deleted one can.
    if (patch.archived !== undefined) {
      ui.toast(`${patch.archived ? 'Archived' : 'Unarchived'} “${conversation.title}”`, {
        action: { label: 'Undo', run: () => void this.update(id, { archived: !patch.archived }).catch((err: unknown) => ui.error(err)) },
      })
    }
    return conversation
  }

  /** Deletes at once and offers an undo for as long as main keeps it. */
  async remove(id: string): Promise<void> {
    const title = this.list.find((c) => c.id === id)?.title ?? 'Conversation'
    const { undoUntil } = await api.deleteConversation(id)
    this.#apply(id, null)
    ui.toast(`Deleted “${title}”`, {
      ms: Math.max(1000, undoUntil - Date.now()),
      action: { label: 'Undo', run: () => void this.undoRemove(id) },
    })
  }

  async undoRemove(id: string): Promise<void> {
    try {
      const conversation = await api.undoDeleteConversation(id)
      this.#apply(id, conversation)
    } catch (err) {
      ui.error(err)
    }
  }

  /** Inserts, replaces or drops one conversation, keeping main's order: pinned, then newest. */
  #apply(id: string, conversation: Conversation | null): void {
    const rest = this.list.filter((c) => c.id !== id)
    if (conversation && conversation.archived === this.showArchived) rest.push(conversation)
    this.list = rest.sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.updatedAt - a.updatedAt)
    chat.adopt(id, conversation)
  }
}

export const conversations = new ConversationsState()
