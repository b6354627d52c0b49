// Builds Hearth export files for tests: conversations whose stored content we choose (the model's is random).

import type { GenerationStats, Role } from '../../src-shared/types.ts'

export interface FileMessage {
  role: Role
  content: string
  stats?: GenerationStats
}

export interface FileConversation {
  title: string
  messages: FileMessage[]
  pinned?: boolean
  /** Minutes before now of the last update; the sidebar groups by it. */
  ageMinutes?: number
}

export const SAMPLE_STATS: GenerationStats = {
  promptTokens: 412,
  reusedTokens: 380,
  prefillMs: 96,
  prefillTokensPerSecond: 333,
  ttftMs: 118,
  decodeTokensPerSecond: 18.4,
  generatedTokens: 164,
  stopReason: 'eos',
  provider: 'cpu',
}

/** A Hearth export (format version 1): each conversation one linear branch, in order. */
export function hearthExport(conversations: FileConversation[]): string {
  const now = Date.now()
  return JSON.stringify({
    format: 'hearth-conversations',
    version: 1,
    exportedAt: now,
    conversations: conversations.map((c, ci) => {
      const updatedAt = now - (c.ageMinutes ?? 0) * 60_000
      const start = updatedAt - c.messages.length * 1000
      const messages = c.messages.map((m, i) => ({
        id: `c${ci}-m${i}`,
        parentId: i === 0 ? null : `c${ci}-m${i - 1}`,
        role: m.role,
        content: m.content,
        status: 'complete',
        stats: m.role === 'assistant' ? (m.stats ?? null) : null,
        modelId: m.role === 'assistant' ? 'tiny-chat' : null,
        error: null,
        createdAt: start + i * 1000,
      }))
      return {
        title: c.title,
        createdAt: start,
        updatedAt,
        modelId: null,
        systemPrompt: '',
        params: {},
        contextPolicy: 'drop-oldest',
        pinned: c.pinned ?? false,
        archived: false,
        activeLeafId: messages.at(-1)?.id ?? null,
        messages,
      }
    }),
  })
}
