// Documents in the app: attaching a file (read off the main thread, stored once per content), and
// what a turn puts before the model from the documents of its conversation.

import { createHash } from 'node:crypto'
import { AppError } from '../../src-shared/errors.ts'
import {
  MAX_DOCUMENT_BYTES,
  type DocumentContext,
  type DocumentInfo,
  type DocumentKind,
  type DocumentText,
  type Message,
  type PromptMessage,
} from '../../src-shared/types.ts'
import { answerRoom, chooseMode, fitPassages, withDocuments } from '../documents/prompt.ts'
import type { Store } from '../store/store.ts'
import type { EventHub } from './events.ts'
import { promptMessages } from './prompt.ts'

/** How long a cancel waits for the call it overtook. */
const CANCEL_MEMORY_MS = 60_000
/** Ranked passages looked at per question; those that fit the budget go in. */
const CANDIDATE_PASSAGES = 12
/** Per message in a chat template: role markers and separators, beyond the text's own tokens. */
export const TEMPLATE_TOKENS_PER_MESSAGE = 8

/** Token counts with the model a turn runs on, and its context. */
export interface Measure {
  counts: number[]
  contextLength: number
  /** True for a remote model: characters / 4 and an assumed context. */
  estimated: boolean
}

export type Measurer = (texts: string[]) => Promise<Measure>

/** A file's text as read, and what it was read as. */
export interface Extracted {
  kind: DocumentKind
  mimeType: string
  text: string
  /** A PDF's pages; null for other kinds. */
  pages: number | null
}

/** What reads files (documents/extract.ts's DocumentExtractor, off the main thread). */
export interface TextExtractor {
  extract(
    bytes: Buffer,
    name: string,
    options: { signal?: AbortSignal; onProgress?: (progress: { done: number; total: number }) => void },
  ): Promise<Extracted>
}

export interface DocumentServiceDeps {
  store: Store
  extractor: TextExtractor
  events: EventHub
}

export class DocumentService {
  readonly #deps: DocumentServiceDeps
  readonly #attaching = new Map<string, AbortController>()
  /**
   * Attach ids cancelled before their call arrived (over the browser bridge a cancel can overtake
   * the upload of the file): their call is refused instead of storing a document nobody keeps.
   */
  readonly #cancelledEarly = new Set<string>()
  /** The name each document was last attached under: the same bytes may come under another name. */
  readonly #names = new Map<string, string>()

  constructor(deps: DocumentServiceDeps) {
    this.#deps = deps
  }

  async attach(attachId: string, name: string, base64: string): Promise<DocumentInfo> {
    if (this.#attaching.has(attachId)) throw new AppError('CONFLICT', `An attachment named ${attachId} is already being read.`)
    if (this.#cancelledEarly.delete(attachId)) throw new AppError('CANCELLED', `Reading ${name} was cancelled.`)
    const bytes = Buffer.from(base64, 'base64')
    if (bytes.length > MAX_DOCUMENT_BYTES) {
      throw new AppError('DOCUMENT_TOO_BIG', `${name} is ${mib(bytes.length)}; Hearth reads files of at most ${mib(MAX_DOCUMENT_BYTES)}.`)
    }
    const id = createHash('sha256').update(bytes).digest('hex')
    const { documents } = this.#deps.store
    this.#names.set(id, name)
    // The same bytes were read before: nothing to read again.
    if (documents.has(id)) return { ...documents.info(id), name }
    const controller = new AbortController()
    this.#attaching.set(attachId, controller)
    const progress = (phase: 'reading' | 'extracting' | 'indexing', done: number, total: number): void =>
      this.#deps.events.emit('documentProgress', { attachId, name, phase, done, total })
    try {
      progress('reading', bytes.length, bytes.length)
      const extracted = await this.#deps.extractor.extract(bytes, name, {
        signal: controller.signal,
        onProgress: (p) => progress('extracting', p.done, p.total),
      })
      if (controller.signal.aborted) throw new AppError('CANCELLED', `Reading ${name} was cancelled.`)
      progress('indexing', extracted.text.length, extracted.text.length)
      return documents.put({ id, name, bytes: bytes.length, ...extracted })
    } finally {
      this.#attaching.delete(attachId)
    }
  }

  /** Documents as a message attaches them: each under the name it was last attached with. NOT_FOUND for an id never stored. */
  attachments(documentIds: readonly string[]): { documentId: string; name: string }[] {
    return documentIds.map((id) => ({ documentId: id, name: this.#names.get(id) ?? this.#deps.store.documents.info(id).name }))
  }

  cancel(attachId: string): void {
    const running = this.#attaching.get(attachId)
    if (running !== undefined) return running.abort()
    this.#cancelledEarly.add(attachId)
    // A cancel whose call never comes is forgotten after the bridge's own upload timeout.
    setTimeout(() => this.#cancelledEarly.delete(attachId), CANCEL_MEMORY_MS).unref()
  }

  get(documentId: string): DocumentText {
    return this.#deps.store.documents.text(documentId)
  }

  /**
   * The branch with its last user message's documentContext settled, if it had none and there is
   * anything to put in it; earlier messages keep theirs [TAG_DOCUMENT_PREFIX].
   */
  async settle(systemPrompt: string, path: readonly Message[], maxTokens: number | undefined, measure: Measurer): Promise<Message[]> {
    const at = path.findLastIndex((m) => m.role === 'user')
    const last = path[at]
    if (last === undefined || last.documentContext != null) return [...path]
    const earlier = path.slice(0, at)
    const own = last.documents ?? []
    const searched = retrievalDocuments(earlier)
    if (own.length === 0 && searched.length === 0) return [...path]

    const { documents, messages } = this.#deps.store
    const history = this.prompt(systemPrompt, [...earlier, { ...last, documentContext: null }])
    const ownTexts = own.map((d) => documents.text(d.id).text)
    const measured = await measure([...history.map((m) => m.content), ...ownTexts])
    const historyTokens = measured.counts.slice(0, history.length).reduce((sum, n) => sum + n + TEMPLATE_TOKENS_PER_MESSAGE, 0)

    const room = answerRoom(measured.contextLength, maxTokens)
    let mode: DocumentContext['mode'] = null
    let reason = ''
    if (own.length > 0) {
      const sized = own.map((d, i) => ({ name: d.name, tokens: measured.counts[history.length + i] ?? 0 }))
      ;({ mode, reason } = chooseMode({ contextLength: measured.contextLength, historyTokens, documents: sized, room, estimated: measured.estimated }))
    }
    const pool = mode === 'retrieval' ? [...searched, ...own] : searched
    let passages: DocumentContext['passages'] = []
    if (pool.length > 0) {
      const names = new Map(pool.map((d) => [d.id, d.name]))
      const ranked = documents.search(last.content, [...names.keys()], CANDIDATE_PASSAGES)
      const tokens = ranked.length === 0 ? [] : (await measure(ranked.map((p) => p.text))).counts
      const fitting = fitPassages(
        ranked.map((p, i) => ({ ...p, tokens: tokens[i] ?? Math.ceil(p.text.length / 4) })),
        // A quarter of the context at most, so the passages of later questions leave room for the chat.
        Math.max(0, Math.min(Math.floor(measured.contextLength / 4), measured.contextLength - historyTokens - room)),
      )
      passages = fitting.map((p) => ({ documentId: p.documentId, name: names.get(p.documentId) ?? p.name, chunk: p.chunk, start: p.start, end: p.end }))
      if (reason === '') reason = `Each question gets the passages of ${describe([...names.values()])} that match it best.`
    }
    const context: DocumentContext = { mode, reason, passages }
    messages.setDocumentContext(last.id, context)
    return [...earlier, { ...last, documentContext: context }, ...path.slice(at + 1)]
  }

  /** The chat the model sees, each user message with what its documentContext puts before it. */
  prompt(systemPrompt: string, path: readonly Message[]): PromptMessage[] {
    return promptMessages(systemPrompt, path, (message) => this.#content(message))
  }

  #content(message: Message): string {
    const context = message.role === 'user' ? message.documentContext : null
    if (context == null) return message.content
    const { documents } = this.#deps.store
    const whole = context.mode === 'full' ? (message.documents ?? []).map((d) => ({ name: d.name, text: documents.text(d.id).text })) : []
    const passages = context.passages.map((p) => ({ ...p, text: documents.chunkText(p.documentId, p.chunk) }))
    return withDocuments(message.content, whole, passages)
  }
}

/** The documents attached in retrieval mode on this part of the branch: searched for every later question. */
function retrievalDocuments(path: readonly Message[]): DocumentInfo[] {
  const seen = new Map<string, DocumentInfo>()
  for (const m of path) {
    if (m.role !== 'user' || m.documentContext?.mode !== 'retrieval') continue
    for (const d of m.documents ?? []) if (!seen.has(d.id)) seen.set(d.id, d)
  }
  return [...seen.values()]
}

function describe(names: string[]): string {
  return names.length === 1 ? names[0]! : `${names.length} documents`
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1)} MiB`
}
