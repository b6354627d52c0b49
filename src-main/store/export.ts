// Export: lossless JSON (every branch, parameters, stats, model ids, attached documents) and
// readable Markdown (the active branch). Produced in chunks so that a large history never
// becomes one string.

import type { Conversation, DocumentInfo, DocumentText, Folder, Message, Preset } from '../../src-shared/types.ts'

export const HEARTH_EXPORT_FORMAT = 'hearth-conversations'
/**
 * 2: messages name their documents, and the file carries them (version 1 had none). 3: replies
 * keep their tool calls, tool messages (role 'tool') their results, conversations their tool servers.
 * Since then a reply the user rewrote says `edited: true`: optional, so version 3 readers still
 * read the file (dropping the mark). 4: a whole history's file carries its folders (name, order,
 * collapsed, default preset), and each conversation its `folderId`.
 */
export const HEARTH_EXPORT_VERSION = 4

/** A message as exported: its documents by id, under the names they were attached with. */
export type ExportedMessage = Omit<Message, 'documents'> & { documents?: { id: string; name: string }[] }

interface ExportedConversation extends Conversation {
  /** Every message of every branch, parents before children. */
  messages: ExportedMessage[]
}

/** A document once per file however many messages attach it: its info (stored name) and text. */
export type ExportedDocument = DocumentInfo & { text: string }

/** What a whole history's export carries besides its conversations; one conversation's carries none of it. */
export interface ExportedSettings {
  presets: readonly Preset[]
  /** In their order; each conversation names its own by `folderId`. */
  folders: readonly Folder[]
}

/**
 * The JSON file, `{ format, version, exportedAt, conversations, documents, presets, folders }`: ids
 * and parent ids as stored, after the conversations every document their messages attach, then
 * the presets and folders.
 */
export function* hearthJsonChunks(
  conversations: Iterable<Conversation>,
  messagesOf: (conversationId: string) => Message[],
  documentOf: (documentId: string) => DocumentText,
  exportedAt: number,
  { presets, folders }: ExportedSettings = { presets: [], folders: [] },
): Generator<string> {
  // JSON.stringify writes lone surrogates as \uXXXX escapes, so the text survives exactly.
  yield `{"format":"${HEARTH_EXPORT_FORMAT}","version":${HEARTH_EXPORT_VERSION},"exportedAt":${exportedAt},"conversations":[`
  const documentIds = new Set<string>()
  let first = true
  for (const conversation of conversations) {
    const messages = messagesOf(conversation.id).map((m) => exportedMessage(m, documentIds))
    const exported: ExportedConversation = { ...conversation, messages }
    yield (first ? '\n' : ',\n') + JSON.stringify(exported)
    first = false
  }
  yield '\n],"documents":['
  first = true
  for (const id of documentIds) {
    const { info, text } = documentOf(id)
    const exported: ExportedDocument = { ...info, text }
    yield (first ? '\n' : ',\n') + JSON.stringify(exported)
    first = false
  }
  yield `\n],"presets":${JSON.stringify(presets)},"folders":${JSON.stringify(folders)}}\n`
}

/** The message with its documents as references, each added to `documentIds`. */
function exportedMessage(message: Message, documentIds: Set<string>): ExportedMessage {
  const { documents = [], ...fields } = message
  if (documents.length === 0) return fields
  for (const d of documents) documentIds.add(d.id)
  return { ...fields, documents: documents.map((d) => ({ id: d.id, name: d.name })) }
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
    lines.push(`## ${heading(message)}`, '')
    // Named only: a document's text would bury the conversation.
    const documents = message.documents ?? []
    if (documents.length > 0) lines.push(`Attached: ${documents.map((d) => oneLine(d.name)).join(', ')}`, '')
    if (message.tool !== undefined) lines.push(`Arguments: \`${oneLine(message.tool.arguments)}\``, '')
    if (message.content !== '') lines.push(message.tool === undefined ? message.content : fenced(message.content), '')
    for (const call of message.toolCalls ?? []) lines.push(`Called \`${oneLine(call.name)}\``, '')
  }
  return lines.join('\n')
}

function heading(message: Message): string {
  if (message.tool !== undefined) return `Tool: ${oneLine(message.tool.name)}${message.status === 'complete' ? '' : ` (${message.status === 'error' ? `error: ${oneLine(message.error ?? 'unknown')}` : message.status})`}`
  const role = message.role === 'user' ? 'User' : message.role === 'assistant' ? 'Assistant' : 'System'
  const notes = [
    message.role === 'assistant' && message.modelId !== null ? message.modelId : null,
    message.edited === true ? 'edited by the user' : null,
    message.status === 'interrupted' ? 'interrupted' : null,
    message.status === 'error' ? `error: ${oneLine(message.error ?? 'unknown')}` : null,
  ].filter((n) => n !== null)
  return notes.length === 0 ? role : `${role} (${notes.join(', ')})`
}

/** A tool's output as a code block: it is data, not markdown. */
function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length))
  const fence = '`'.repeat(longest + 1)
  return `${fence}\n${text}\n${fence}`
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim()
}
