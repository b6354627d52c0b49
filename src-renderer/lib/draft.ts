// A new chat before its first message: nothing is stored and nothing listed; its settings live
// here until that message creates it with them (startConversation).

import type { Conversation, ConversationPatch, NewConversation } from '../../src-shared/types.ts'

/** What a draft goes by: no stored conversation has it (theirs are UUIDs). */
export const DRAFT_ID = 'draft'

export function isDraft(conversation: Conversation | null): boolean {
  return conversation?.id === DRAFT_ID
}

/** The draft with what the patch names changed, as the store's update changes a stored chat. */
export function patchDraft(draft: Conversation, patch: ConversationPatch): Conversation {
  const named = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as ConversationPatch
  return { ...draft, ...named, id: DRAFT_ID }
}

/** What the draft's first message creates it with. */
export function draftInit(draft: Conversation): NewConversation {
  const { modelId, systemPrompt, params, contextPolicy, toolServers, folderId } = draft
  return { modelId, systemPrompt, params, contextPolicy, toolServers, folderId }
}
