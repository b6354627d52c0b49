// How documents reach the model: whole in the message that attached them when they fit the
// context, else as the passages that best match each later question. Pure: the chat service
// supplies token counts, texts and ranked passages.
//
// [TAG_DOCUMENT_PREFIX] A user message's documentContext is settled once, when it is first
// answered, and stored with it. Every later prompt then renders that message the same way, so
// the tokens before the newest turn never change and the conversation's KV cache (and its disk
// snapshot) covers the document however many questions follow.

import type { DocumentMode, DocumentPassage } from '../../src-shared/types.ts'

/** A document as a message shows it to the model. */
export function documentBlock(name: string, text: string): string {
  return `<document name="${attributeText(name)}">\n${text}\n</document>`
}

/** Passages before a question, numbered as the UI's sources are. */
export function passagesBlock(passages: readonly (DocumentPassage & { text: string })[]): string {
  const body = passages.map((p, i) => `[${i + 1}] ${p.name}, passage ${p.chunk + 1}:\n${p.text}`).join('\n\n')
  return `<passages>\n${body}\n</passages>`
}

/** A user message's text as the model reads it: its documents (whole) and passages first. */
export function withDocuments(text: string, documents: readonly { name: string; text: string }[], passages: readonly (DocumentPassage & { text: string })[]): string {
  const parts = documents.map((d) => documentBlock(d.name, d.text))
  if (passages.length > 0) parts.push(passagesBlock(passages))
  return parts.length === 0 ? text : `${parts.join('\n\n')}\n\n${text}`
}

/** Tokens kept free for the answer: the reply's limit, else a quarter of the context, at least 256 where the context allows. */
export function answerRoom(contextLength: number, maxTokens: number | undefined): number {
  const quarter = Math.floor(contextLength / 4)
  const wanted = Math.max(quarter, Math.min(256, Math.floor(contextLength / 2)))
  return maxTokens === undefined ? wanted : Math.min(maxTokens, wanted)
}

export interface ModeInput {
  contextLength: number
  /** Tokens of the conversation before this message's documents (system prompt and earlier turns, this message's text). */
  historyTokens: number
  /** Each of this message's documents: its name and tokens. */
  documents: readonly { name: string; tokens: number }[]
  /** Tokens kept for the answer (answerRoom). */
  room: number
  /** Whether the model's tokenizer counted, or the counts are estimates (a remote model). */
  estimated: boolean
}

/** Whole in the prompt when the documents fit beside the conversation and the answer; else searched. */
export function chooseMode(input: ModeInput): { mode: DocumentMode; reason: string } {
  const tokens = input.documents.reduce((sum, d) => sum + d.tokens, 0)
  const left = Math.max(0, input.contextLength - input.historyTokens - input.room)
  const what = input.documents.length === 1 ? input.documents[0]!.name : `${input.documents.length} documents`
  const about = input.estimated ? 'about ' : ''
  const size = `${what} ${input.documents.length === 1 ? 'is' : 'are'} ${about}${count(tokens)} tokens`
  if (tokens <= left) {
    return { mode: 'full', reason: `${size}; they fit in the model's context (${count(input.contextLength)} tokens), so the model reads ${input.documents.length === 1 ? 'it' : 'them'} whole.` }
  }
  return {
    mode: 'retrieval',
    reason: `${size}; the model's context (${count(input.contextLength)} tokens) leaves room for ${count(left)}, so each question gets the passages that match it best.`,
  }
}

/** The best-ranked passages whose tokens fit in `budget`, in rank order; a passage that does not fit is skipped, not cut. */
export function fitPassages<P extends { tokens: number }>(ranked: readonly P[], budget: number): P[] {
  const chosen: P[] = []
  let used = 0
  for (const passage of ranked) {
    if (used + passage.tokens > budget) continue
    chosen.push(passage)
    used += passage.tokens
  }
  return chosen
}

function count(n: number): string {
  return n.toLocaleString('en-US')
}

/** A file name inside a double-quoted attribute: a quote or a newline in it cannot end the tag. */
function attributeText(name: string): string {
  return name.replace(/[\r\n]+/g, ' ').replace(/"/g, "'")
}
