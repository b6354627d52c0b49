// Changing a conversation's history by hand: a reply rewritten by the user, a message deleted with
// everything below it (and undone). None of it while the conversation generates: the reply being
// written builds on the branch as it was.

import { AppError } from '../../src-shared/errors.ts'
import type { DeleteResult, Message } from '../../src-shared/types.ts'
import type { Store } from '../store/store.ts'
import type { ChatService } from './chat-service.ts'
import type { EventHub } from './events.ts'

export interface MessageEditsDeps {
  store: Store
  chat: Pick<ChatService, 'generatingMessageId'>
  events: EventHub
}

export class MessageEdits {
  readonly #deps: MessageEditsDeps

  constructor(deps: MessageEditsDeps) {
    this.#deps = deps
  }

  /**
   * The user's text for a reply, as a new branch beside it, marked edited; the next turn's prompt
   * reads it (the engine prefills again from where the text changed, as for any other prompt).
   */
  editReply(messageId: string, text: string): Message {
    const { messages } = this.#deps.store
    this.#checkFree(messages.get(messageId).conversationId)
    const reply = messages.addEditedReply(messageId, text)
    this.#changed(reply.conversationId)
    this.#deps.events.emit('messageChanged', { conversationId: reply.conversationId, message: reply })
    return reply
  }

  /** Removes the message and everything below it on every branch, until undoDelete brings it back. */
  delete(messageId: string): DeleteResult {
    const { conversationId } = this.#deps.store.messages.get(messageId)
    this.#checkFree(conversationId)
    const { undoUntil } = this.#deps.store.removal.remove(messageId)
    this.#changed(conversationId)
    return { undoUntil }
  }

  /** The deleted message and its subtree back where they were, the branch active then shown again; returns their conversation. */
  undoDelete(messageId: string): string {
    const { removal } = this.#deps.store
    const conversationId = removal.removedFrom(messageId)
    if (conversationId === null) throw new AppError('NOT_FOUND', 'This message can no longer be restored: the time to undo its deletion has passed.')
    this.#checkFree(conversationId)
    removal.restore(messageId)
    this.#changed(conversationId)
    return conversationId
  }

  #checkFree(conversationId: string): void {
    if (this.#deps.chat.generatingMessageId(conversationId) !== null) {
      throw new AppError('ENGINE_BUSY', 'A reply is still being written in this chat. Stop it or wait for it to finish.')
    }
  }

  #changed(conversationId: string): void {
    const conversation = this.#deps.store.conversations.get(conversationId)
    this.#deps.events.emit('conversationChanged', { conversationId, conversation })
  }
}
