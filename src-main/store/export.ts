// Export: lossless JSON (every branch, parameters, stats, model ids) and readable Markdown
// (the active branch). Produced in chunks so that a large history never becomes one string.

import type { Conversation, Message } from '../../src-shared/types.ts'

export const HEARTH_EXPORT_FORMAT = 'hearth-conversations'
export const HEARTH_EXPORT_VERSION = 1

interface ExportedConversation extends Conversation {
  /** Every message of every branch, parents before children. */
  messages: Message[]
}

/** The JSON file, `{ format, version, exportedAt, conversations }`: ids and parent ids as stored. */
export function* hearthJsonChunks(
  conversations: Iterable<Conversation>,
  messagesOf: (conversationId: string) => Message[],
  exportedAt: number,
): Generator<string> {
  // JSON.stringify writes lone surrogates as \uXXXX escapes, so the text survives exactly.
  yield `{"format":"${HEARTH_EXPORT_FORMAT}","version":${HEARTH_EXPORT_VERSION},"exportedAt":${exportedAt},"conversations":[`
  let first = true
  for (const conversation of conversations) {
    const exported: ExportedConversation = { ...conversation, messages: messagesOf(conversation.id) }
    yield (first ? '\n' : ',\n') + JSON.stringify(exported)
    first = false
  }
  yield '\n]}\n'
}

export function* markdownChunks(
  conversations: Iterable<Conversation>,
  branchOf: (conversationId: string) => Message[],
): Generator<string> {
  let first = true
  for (const conversation of conversations) {
    if (!first) yield '\n---\n\n'
    first = false
    yield conversationMarkdown(conversation, branchOf(conversation.id))
  }
}

function conversationMarkdown(conversation: Conversation, branch: Message[]): string {
  const lines = [`# ${oneLine(conversation.title)}`, '']
  lines.push(`- Created: ${new Date(conversation.createdAt).toISOString()}`)
  if (conversation.modelId !== null) lines.push(`- Model: ${conversation.modelId}`)
  lines.push('')
  if (conversation.systemPrompt !== '') lines.push('## System', '', conversation.systemPrompt, '')
  for (const message of branch) {
    lines.push(`## ${heading(message)}`, '', message.content, '')
  }
  return lines.join('\n')
}

function heading(message: Message): string {
  const role = message.role === 'user' ? 'User' : message.role === 'assistant' ? 'Assistant' : 'System'
  const notes = [
    message.role === 'assistant' && message.modelId !== null ? message.modelId : null,
    message.status === 'interrupted' ? 'interrupted' : null,
    message.status === 'error' ? `error: ${oneLine(message.error ?? 'unknown')}` : null,
  ].filter((n) => n !== null)
  return notes.length === 0 ? role : `${role} (${notes.join(', ')})`
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim()
}
