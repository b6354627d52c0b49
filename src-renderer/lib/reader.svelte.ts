// The document reader: which document is open, its text once main has sent it, and the passage to show.

import type { DocumentInfo, DocumentPassage, DocumentText } from '../../src-shared/types.ts'
import { api } from './api.ts'

export interface ReaderRequest {
  documentId: string
  /** The name it was attached under, shown until (and instead of) the stored one. */
  name: string
  /** The set it was opened from (a message's documents), for "New chat with these documents"; null: this one alone. */
  documents: DocumentInfo[] | null
  /** A source opens the reader at its passage, highlighted. */
  passage: DocumentPassage | null
}

class ReaderState {
  request = $state<ReaderRequest | null>(null)
  /** Replaced whole: a document's text can run to megabytes. */
  document = $state.raw<DocumentText | null>(null)
  error = $state<string | null>(null)
  /** Only the newest open may land. */
  #opens = 0

  get isOpen(): boolean {
    return this.request !== null
  }

  /** The documents "New chat with these documents" takes: the set it was opened from, else this one. */
  get documents(): DocumentInfo[] {
    const request = this.request
    if (request?.documents) return request.documents
    return this.document ? [{ ...this.document.info, name: request?.name ?? this.document.info.name }] : []
  }

  async open(request: ReaderRequest): Promise<void> {
    const ticket = ++this.#opens
    this.request = request
    this.error = null
    if (this.document?.info.id !== request.documentId) this.document = null
    try {
      const document = await api.getDocument(request.documentId)
      if (ticket === this.#opens) this.document = document
    } catch (err) {
      if (ticket === this.#opens) this.error = err instanceof Error ? err.message : String(err)
    }
  }

  close(): void {
    this.#opens++
    this.request = null
  }
}

export const reader = new ReaderState()
