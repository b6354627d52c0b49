// Writes an import plan staged: a slice of rows per transaction with turns of the event loop in
// between, so that replies streaming and other calls go on while tens of thousands of messages are
// written, and still all of it or none of it.
// [TAG_IMPORT_STAGING] A staged conversation is one "deleted" at STAGED, a time no undo window
// reaches: lists, search and get() pass over it as over any deleted one, purgeExpired() leaves it,
// one last statement shows every conversation of the import at once, a failure deletes them, and
// the purge at start-up removes what an import cut short by a crash left behind.

import type Database from 'better-sqlite3'
import { AppError } from '../../src-shared/errors.ts'
import type { ImportFormat, ImportResult } from '../../src-shared/types.ts'
import type { ConversationStore } from './conversations.ts'
import type { DocumentStore } from './documents.ts'
import type { FolderStore } from './folders.ts'
import { invalid, type ImportPlan } from './import-plan.ts'
import type { MessageStore } from './messages.ts'
import type { SettingsStore } from './settings.ts'
import type { TimeSlicer } from './time-slice.ts'

const STAGED = Number.MAX_SAFE_INTEGER

export interface ImportStores {
  conversations: ConversationStore
  folders: FolderStore
  messages: MessageStore
  documents: DocumentStore
  settings: SettingsStore
}

/**
 * Writes every planned conversation under new ids, or leaves the database as it was. A document
 * is written in the slice of the first message that attaches it, so none is left unattached;
 * one already stored is kept as it is (content-addressed), and deleting what a failed import
 * wrote releases the documents it brought [TAG_DOCUMENT_LIFETIME].
 */
export async function writeImport(
  db: Database.Database,
  { conversations, folders, messages, documents, settings }: ImportStores,
  format: ImportFormat,
  plan: ImportPlan,
  slicer: TimeSlicer,
  onProgress: (done: number, total: number) => void,
): Promise<ImportResult> {
  const stage = db.prepare<[number, string]>('UPDATE conversations SET deleted_at = ? WHERE id = ?')
  const total = plan.conversations.reduce((n, c) => n + c.messages.length, 0)
  const conversationIds: string[] = []
  const messageIds: string[] = []
  let presetsAdded = 0
  let foldersAdded = 0
  // Where the writing is: conversation `next` of the plan, its row (null until written) and message `m`.
  let next = 0
  let row: string | null = null
  let m = 0
  let ids = new Map<string, string>()
  const writeSlice = db.transaction(() => {
    do {
      const planned = plan.conversations[next]!
      if (row === null) {
        row = conversations.insert(planned.fields).id
        stage.run(STAGED, row)
        conversationIds.push(row)
        ids = new Map()
        m = 0
      }
      const message = planned.messages[m]
      if (message !== undefined) {
        for (const { id } of message.fields.documents ?? []) {
          const { info, text } = plan.documents.get(id)!
          documents.put({ ...info, text }, info.createdAt)
        }
        const parentId = message.parentKey === null ? null : (ids.get(message.parentKey) ?? null)
        const id = messages.insert({ ...message.fields, conversationId: row, parentId }).id
        ids.set(message.key, id)
        messageIds.push(id)
        m += 1
        continue
      }
      const leaf = planned.activeKey === null ? undefined : ids.get(planned.activeKey)
      if (leaf !== undefined) conversations.setActiveLeaf(row, leaf)
      row = null
      next += 1
    } while (next < plan.conversations.length && !slicer.spent)
  })

  try {
    while (next < plan.conversations.length) {
      if (!db.open) throw new AppError('CANCELLED', 'Hearth closed during the import: nothing was imported.')
      try {
        writeSlice()
      } catch (err) {
        throw refused(err, plan.conversations[next]?.where ?? 'the file')
      }
      onProgress(messageIds.length, total)
      await slicer.turn()
    }
    db.transaction(() => {
      db.prepare('UPDATE conversations SET deleted_at = NULL WHERE deleted_at = ? AND id IN (SELECT value FROM json_each(?))').run(
        STAGED,
        JSON.stringify(conversationIds),
      )
      // With the conversations, never before: a failed import adds no presets either.
      const mine = settings.get('presets')
      const added = plan.presets.filter((p) => !mine.some((m) => m.id === p.id))
      if (added.length > 0) settings.set('presets', [...mine, ...added])
      presetsAdded = added.length
      // Folders after presets (a folder's default preset may be one the file brought), before filing the chats.
      foldersAdded = folders.adopt(plan.folders)
      const file = db.prepare<[string, string]>('UPDATE conversations SET folder_id = ? WHERE id = ?')
      plan.conversations.forEach(({ folderKey }, i) => {
        if (folderKey !== null && folders.has(folderKey)) file.run(folderKey, conversationIds[i]!)
      })
    })()
  } catch (err) {
    if (db.open) await dropStaged(db, conversationIds, messageIds, slicer)
    throw err
  }
  return { format, conversationIds, messages: messageIds.length, skippedMessages: plan.skippedMessages, presets: presetsAdded, folders: foldersAdded }
}

/** Deletes what a failed import wrote, newest first (children before parents: no cascades), in slices. */
async function dropStaged(db: Database.Database, conversationIds: string[], messageIds: string[], slicer: TimeSlicer): Promise<void> {
  const dropMessage = db.prepare<[string]>('DELETE FROM messages WHERE id = ?')
  const dropConversation = db.prepare<[string, number]>('DELETE FROM conversations WHERE id = ? AND deleted_at = ?')
  const dropSlice = db.transaction(() => {
    do {
      const message = messageIds.pop()
      if (message !== undefined) dropMessage.run(message)
      else dropConversation.run(conversationIds.pop()!, STAGED)
    } while ((messageIds.length > 0 || conversationIds.length > 0) && !slicer.spent)
  })
  while (messageIds.length > 0 || conversationIds.length > 0) {
    dropSlice()
    await slicer.turn()
  }
}

/** What the database refused, as a Hearth error naming the conversation: no SQLite code leaves the store. */
function refused(err: unknown, where: string): unknown {
  if (err instanceof AppError) return err.code === 'BAD_REQUEST' ? invalid(where, err.message) : err
  const code = (err as { code?: unknown }).code
  const message = err instanceof Error ? err.message : String(err)
  if (code === 'SQLITE_FULL') return new AppError('DISK_FULL', `The disk is full: nothing was imported (${where}).`)
  if (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT')) return invalid(where, `the database refused it (${message})`)
  return err
}
