// Sidebar grouping: pinned first, then Today, Yesterday, Previous 7 days, Older (local calendar days).

import type { Conversation } from '../../src-shared/types.ts'

export interface ConversationGroup {
  label: 'Pinned' | 'Today' | 'Yesterday' | 'Previous 7 days' | 'Older'
  conversations: Conversation[]
}

const DAY_MS = 86_400_000

function startOfDay(ms: number): number {
  const d = new Date(ms)
  d.setHours(0, 0, 0, 0)
  return d.getTime()
}

/** Groups in display order, empty groups left out; within a group, most recently updated first. */
export function groupConversations(conversations: readonly Conversation[], now: number): ConversationGroup[] {
  const today = startOfDay(now)
  const yesterday = startOfDay(today - DAY_MS / 2)
  const weekAgo = startOfDay(today - 7 * DAY_MS + DAY_MS / 2)
  const groups: ConversationGroup[] = [
    { label: 'Pinned', conversations: [] },
    { label: 'Today', conversations: [] },
    { label: 'Yesterday', conversations: [] },
    { label: 'Previous 7 days', conversations: [] },
    { label: 'Older', conversations: [] },
  ]
  const sorted = [...conversations].sort((a, b) => b.updatedAt - a.updatedAt)
  for (const conversation of sorted) {
    const t = conversation.updatedAt
    const index = conversation.pinned ? 0 : t >= today ? 1 : t >= yesterday ? 2 : t >= weekAgo ? 3 : 4
    groups[index]!.conversations.push(conversation)
  }
  return groups.filter((group) => group.conversations.length > 0)
}
