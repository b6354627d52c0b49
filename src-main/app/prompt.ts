// What a generation is asked: the prompt from a branch and a first title.

import type { Message, PromptMessage } from '../../src-shared/types.ts'

/**
 * The chat the model sees: the system prompt (when there is one) first, then the path root
 * first. A reply that failed before its first token (and called nothing) is left out: it holds
 * nothing the model wrote, and an empty assistant turn would only confuse the template. A reply's
 * tool calls go with it, and each tool message gives the model its call's result, or why there is
 * none.
 */
export function promptMessages(
  systemPrompt: string,
  path: readonly Message[],
  /** A message's text as the model reads it: documents.ts puts a user message's documents before it. */
  content: (message: Message) => string = (message) => message.content,
): PromptMessage[] {
  const messages: PromptMessage[] = []
  if (systemPrompt.trim() !== '') messages.push({ role: 'system', content: systemPrompt })
  for (const message of path.filter(inPrompt)) {
    const calls = message.toolCalls ?? []
    if (message.role === 'tool' && message.tool !== undefined) {
      messages.push({ role: 'tool', content: toolResultText(message), toolCallId: message.tool.callId })
    } else if (calls.length > 0) {
      messages.push({ role: message.role, content: content(message), toolCalls: calls })
    } else {
      messages.push({ role: message.role, content: content(message) })
    }
  }
  return messages
}

/** The message id behind each of promptMessages' messages: null for the system prompt. */
export function promptMessageIds(systemPrompt: string, path: readonly Message[]): (string | null)[] {
  return [...(systemPrompt.trim() !== '' ? [null] : []), ...path.filter(inPrompt).map((m) => m.id)]
}

/** An empty reply that calls nothing (stopped before its first token) says nothing to the model. */
function inPrompt(message: Message): boolean {
  return !(message.role === 'assistant' && message.content === '' && (message.toolCalls ?? []).length === 0)
}

/** What the model reads of a tool call: its result, or what became of the call. */
export function toolResultText(message: Message): string {
  if (message.status === 'complete') return message.content
  if (message.status === 'interrupted') return 'The call was cancelled before it returned a result.'
  return `Error: ${message.error ?? 'the call failed.'}`
}

const TITLE_CHARS = 60

/** A conversation's first title: the first line of its first message, shortened at a word. */
export function titleFrom(text: string): string {
  const line = text.trim().split('\n', 1)[0]?.trim().replace(/\s+/g, ' ') ?? ''
  if (line.length <= TITLE_CHARS) return line
  // Never end on half of a surrogate pair (an emoji cut in two).
  const cut = line.slice(0, /[\uD800-\uDBFF]/.test(line[TITLE_CHARS - 1] ?? '') ? TITLE_CHARS - 1 : TITLE_CHARS)
  const space = cut.lastIndexOf(' ')
  return `${(space > TITLE_CHARS / 2 ? cut.slice(0, space) : cut).trimEnd()}…`
}
