// Files attached in each conversation's composer: read, handed to main to extract and store, then
// sent with the message as document ids.

import type { DocumentInfo, DocumentProgress } from '../../src-shared/types.ts'
import { api } from './api.ts'
import { fileRefusal, MAX_DOCUMENTS_PER_MESSAGE, MAX_FILE_NAME } from './document-text.ts'
import { ui } from './ui.svelte.ts'

export interface Attachment {
  /** Names this attach to main (its progress events, cancelAttach); fresh for every attach. */
  attachId: string
  name: string
  bytes: number
  /** waiting: queued behind another file; reading: being read here or by main; ready: stored as info. */
  status: 'waiting' | 'reading' | 'ready' | 'error'
  /** Main's latest progress; null until the first. */
  progress: DocumentProgress | null
  info: DocumentInfo | null
  error: string | null
}

interface Job {
  conversationId: string
  attachId: string
  file: File
}

class AttachmentsState {
  /** By conversation id: each chat keeps its own until sent. */
  byConversation = $state<Record<string, Attachment[]>>({})
  /**
   * One file at a time: a file travels whole as base64, and the browser bridge takes at most
   * 64 MiB in flight, so ten 32 MiB files at once would be refused (and held in memory together).
   */
  #queue: Job[] = []
  #running = false
  /** Attaches whose attachDocument call main is working on: the ones to cancel there. */
  #inMain = new Set<string>()
  /** Lets the queue move on from the file being read when its chip is removed, not when main answers. */
  #release = new Map<string, () => void>()

  constructor() {
    api.on('documentProgress', (progress) => {
      const item = this.#find(progress.attachId)
      if (item?.status === 'reading') item.progress = progress
    })
  }

  list(conversationId: string): Attachment[] {
    return this.byConversation[conversationId] ?? []
  }

  /** Why the message cannot be sent with its files yet; null when every file is ready. */
  waitReason(conversationId: string): string | null {
    const items = this.list(conversationId)
    const pending = items.filter((a) => a.status === 'waiting' || a.status === 'reading')
    if (pending.length > 0) return pending.length === 1 ? `Waiting for ${pending[0]!.name} to be read` : `Waiting for ${pending.length} files to be read`
    if (items.some((a) => a.status === 'error')) return 'Remove the files that could not be attached to send'
    return null
  }

  readyIds(conversationId: string): string[] {
    return this.list(conversationId).flatMap((a) => (a.status === 'ready' && a.info ? [a.info.id] : []))
  }

  /** Adds files as chips and reads them in turn; says so when some are refused. */
  add(conversationId: string, files: readonly File[]): void {
    if (files.length === 0) return
    const items = this.list(conversationId)
    const room = Math.max(0, MAX_DOCUMENTS_PER_MESSAGE - items.length)
    if (files.length > room) {
      const left = files.length - room
      ui.toast(`A message carries at most ${MAX_DOCUMENTS_PER_MESSAGE} files: ${left} ${left === 1 ? 'was' : 'were'} not attached.`, { kind: 'error' })
    }
    const added = files.slice(0, room).map((file): Attachment => {
      const refusal = fileRefusal(file)
      const item: Attachment = { attachId: newAttachId(), name: file.name.slice(0, MAX_FILE_NAME) || 'file', bytes: file.size, status: refusal ? 'error' : 'waiting', progress: null, info: null, error: refusal }
      if (!refusal) this.#queue.push({ conversationId, attachId: item.attachId, file })
      return item
    })
    this.byConversation[conversationId] = [...items, ...added]
    void this.#pump()
  }

  /** Chips for documents already stored ("New chat with these documents"): nothing is read again. */
  adopt(conversationId: string, documents: readonly DocumentInfo[]): void {
    const items = documents.slice(0, MAX_DOCUMENTS_PER_MESSAGE).map(
      (info): Attachment => ({ attachId: newAttachId(), name: info.name, bytes: info.bytes, status: 'ready', progress: null, info, error: null }),
    )
    this.byConversation[conversationId] = items
  }

  /** Drops a chip; a file main is still reading is cancelled there. */
  remove(conversationId: string, attachId: string): void {
    const item = this.list(conversationId).find((a) => a.attachId === attachId)
    if (!item) return
    this.#queue = this.#queue.filter((job) => job.attachId !== attachId)
    this.byConversation[conversationId] = this.list(conversationId).filter((a) => a.attachId !== attachId)
    if (this.#inMain.has(attachId)) void api.cancelAttach(attachId).catch((err: unknown) => ui.error(err))
    this.#release.get(attachId)?.()
  }

  /** Drops every chip of the conversation (a new chat left unsent), cancelling the reads. */
  clear(conversationId: string): void {
    for (const item of this.list(conversationId)) this.remove(conversationId, item.attachId)
  }

  /** After the message went with these documents: they are on it now, so their chips go. */
  removeSent(conversationId: string, documentIds: readonly string[]): void {
    const rest = this.list(conversationId).filter((a) => !(a.info && documentIds.includes(a.info.id)))
    if (rest.length > 0) this.byConversation[conversationId] = rest
    else delete this.byConversation[conversationId]
  }

  async #pump(): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
        const job = next
        await new Promise<void>((release) => {
          this.#release.set(job.attachId, release)
          void this.#attach(job).finally(release)
        })
        this.#release.delete(job.attachId)
      }
    } finally {
      this.#running = false
    }
  }

  async #attach({ conversationId, attachId, file }: Job): Promise<void> {
    const start = this.#find(attachId)
    if (!start) return
    start.status = 'reading'
    try {
      const data = await readBase64(file)
      if (!this.#find(attachId)) return
      this.#inMain.add(attachId)
      const info = await api.attachDocument(attachId, start.name, data).finally(() => this.#inMain.delete(attachId))
      const item = this.#find(attachId)
      if (!item) return
      // The same bytes are one document: a second chip for it would send it twice.
      if (this.readyIds(conversationId).includes(info.id)) {
        this.byConversation[conversationId] = this.list(conversationId).filter((a) => a.attachId !== attachId)
        ui.toast(`${item.name} is already attached.`)
        return
      }
      Object.assign(item, { status: 'ready', info, progress: null })
    } catch (err) {
      // A chip removed meanwhile was cancelled: nothing to say. Otherwise main said why it failed.
      const item = this.#find(attachId)
      if (item) Object.assign(item, { status: 'error', error: err instanceof Error ? err.message : String(err), progress: null })
    }
  }

  /** The live (proxied) chip, wherever it is; undefined once removed. */
  #find(attachId: string): Attachment | undefined {
    for (const items of Object.values(this.byConversation)) {
      const item = items.find((a) => a.attachId === attachId)
      if (item) return item
    }
    return undefined
  }
}

/** 128 random bits, hex: unique across windows attaching at once to one main. */
function newAttachId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('')
}

/** The file's bytes as base64, read by the browser off the UI thread. */
function readBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader()
    reader.onload = () => {
      const url = reader.result as string
      resolve(url.slice(url.indexOf(',') + 1))
    }
    reader.onerror = () => reject(reader.error ?? new Error(`Could not read ${file.name}`))
    reader.readAsDataURL(file)
  })
}

export const attachments = new AttachmentsState()
