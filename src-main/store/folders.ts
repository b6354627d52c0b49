// Folders: the sidebar's groups of conversations, in the user's order.

import { randomUUID } from 'node:crypto'
import type Database from 'better-sqlite3'
import { AppError } from '../../src-shared/errors.ts'
import type { Folder, FolderPatch } from '../../src-shared/types.ts'

interface FolderRow {
  id: string
  name: string
  position: number
  collapsed: 0 | 1
  default_preset_id: string | null
  created_at: number
}

const MAX_NAME = 200
const MAX_FOLDERS = 1000

/** A deleted folder that can still be put back; kept in memory, as a removed message is (message-removal.ts). */
interface Deleted {
  row: FolderRow
  /** Its conversations when it was deleted. */
  members: string[]
  undoUntil: number
}

function toFolder(row: FolderRow): Folder {
  return {
    id: row.id,
    name: row.name,
    position: row.position,
    collapsed: row.collapsed === 1,
    defaultPresetId: row.default_preset_id,
    createdAt: row.created_at,
  }
}

export class FolderStore {
  readonly #now: () => number
  readonly #undoWindowMs: number
  readonly #deleted = new Map<string, Deleted>()
  readonly #list: Database.Statement<[], FolderRow>
  readonly #get: Database.Statement<[string], FolderRow>
  readonly #insert: Database.Statement<[FolderRow]>
  readonly #write: Database.Statement<[FolderRow]>
  readonly #setPosition: Database.Statement<[number, string]>
  readonly #members: Database.Statement<[string], { id: string }>
  readonly #delete: Database.Statement<[string]>
  readonly #refile: Database.Statement<[string, string]>
  readonly #db: Database.Database

  constructor(db: Database.Database, options: { now: () => number; undoWindowMs: number }) {
    this.#db = db
    this.#now = options.now
    this.#undoWindowMs = options.undoWindowMs
    this.#list = db.prepare('SELECT * FROM folders ORDER BY position, created_at, id')
    this.#get = db.prepare('SELECT * FROM folders WHERE id = ?')
    this.#insert = db.prepare(`INSERT INTO folders (id, name, position, collapsed, default_preset_id, created_at)
      VALUES (@id, @name, @position, @collapsed, @default_preset_id, @created_at)`)
    this.#write = db.prepare(`UPDATE folders SET name = @name, collapsed = @collapsed,
      default_preset_id = @default_preset_id WHERE id = @id`)
    this.#setPosition = db.prepare('UPDATE folders SET position = ? WHERE id = ?')
    // Deleted conversations too: their folder_id goes with the folder, so an undone delete comes back unfiled.
    this.#members = db.prepare('SELECT id FROM conversations WHERE folder_id = ? AND deleted_at IS NULL')
    this.#delete = db.prepare('DELETE FROM folders WHERE id = ?')
    // Only a chat still unfiled: one the user has put in another folder since stays there.
    this.#refile = db.prepare('UPDATE conversations SET folder_id = ? WHERE id = ? AND folder_id IS NULL AND deleted_at IS NULL')
  }

  list(): Folder[] {
    return this.#list.all().map(toFolder)
  }

  get(id: string): Folder {
    const row = this.#get.get(id)
    if (row === undefined) throw new AppError('NOT_FOUND', `There is no folder ${id}.`)
    return toFolder(row)
  }

  has(id: string): boolean {
    return this.#get.get(id) !== undefined
  }

  /** A new folder, last in the order, expanded, with no default preset. */
  create(name: string): Folder {
    const folders = this.#list.all()
    if (folders.length >= MAX_FOLDERS) throw new AppError('BAD_REQUEST', `There can be at most ${MAX_FOLDERS} folders.`)
    const row: FolderRow = {
      id: randomUUID(),
      name: checkName(name),
      position: folders.length,
      collapsed: 0,
      default_preset_id: null,
      created_at: this.#now(),
    }
    this.#insert.run(row)
    return toFolder(row)
  }

  update(id: string, patch: FolderPatch): Folder {
    const current = this.#get.get(id)
    if (current === undefined) throw new AppError('NOT_FOUND', `There is no folder ${id}.`)
    this.#db.transaction(() => {
      this.#write.run({
        ...current,
        name: patch.name === undefined ? current.name : checkName(patch.name),
        collapsed: patch.collapsed === undefined ? current.collapsed : patch.collapsed ? 1 : 0,
        default_preset_id: patch.defaultPresetId === undefined ? current.default_preset_id : patch.defaultPresetId,
      })
      if (patch.position !== undefined) this.#move(id, patch.position)
    })()
    return this.get(id)
  }

  /**
   * Removes the folder; its conversations stay, unfiled (the foreign key sets them null). `restore`
   * puts it back, with them, until `undoUntil`.
   */
  delete(id: string): { conversationIds: string[]; undoUntil: number } {
    return this.#db.transaction(() => {
      const row = this.#get.get(id)
      if (row === undefined) throw new AppError('NOT_FOUND', `There is no folder ${id}.`)
      const members = this.#members.all(id).map((r) => r.id)
      this.#delete.run(id)
      this.#renumber(this.#list.all().map((r) => r.id))
      const undoUntil = this.#now() + this.#undoWindowMs
      this.#deleted.set(id, { row, members, undoUntil })
      return { conversationIds: members, undoUntil }
    })()
  }

  /**
   * The deleted folder back at its place, with its name, state and default preset, and its
   * conversations that are still unfiled back in it. Returns the folder and those conversations.
   */
  restore(id: string): { folder: Folder; conversationIds: string[] } {
    const deleted = this.#deleted.get(id)
    if (deleted === undefined || this.#now() > deleted.undoUntil) {
      throw new AppError('NOT_FOUND', 'This folder can no longer be restored: the time to undo its deletion has passed.')
    }
    return this.#db.transaction(() => {
      this.#insert.run(deleted.row)
      this.#move(id, deleted.row.position)
      this.#deleted.delete(id)
      const conversationIds = deleted.members.filter((member) => this.#refile.run(id, member).changes > 0)
      return { folder: this.get(id), conversationIds }
    })()
  }

  /**
   * An import's folders, merged by id: one already here stays as it is here; the others are added
   * after the folders here, in the order given. Returns how many were added.
   */
  adopt(folders: readonly Folder[]): number {
    const added = folders.filter((f) => !this.has(f.id))
    const start = this.#list.all().length
    if (start + added.length > MAX_FOLDERS) throw new AppError('BAD_REQUEST', `There can be at most ${MAX_FOLDERS} folders.`)
    added.forEach((f, i) =>
      this.#insert.run({
        id: f.id,
        name: checkName(f.name),
        position: start + i,
        collapsed: f.collapsed ? 1 : 0,
        default_preset_id: f.defaultPresetId,
        created_at: f.createdAt,
      }),
    )
    return added.length
  }

  /** Puts the folder at `position` (clamped), the others keeping their order around it. */
  #move(id: string, position: number): void {
    const others = this.#list.all().map((r) => r.id).filter((other) => other !== id)
    const at = Math.max(0, Math.min(others.length, Math.trunc(position)))
    this.#renumber([...others.slice(0, at), id, ...others.slice(at)])
  }

  #renumber(ids: string[]): void {
    ids.forEach((id, i) => this.#setPosition.run(i, id))
  }
}

function checkName(name: string): string {
  const trimmed = name.trim()
  if (trimmed === '') throw new AppError('BAD_REQUEST', 'A folder needs a name that is not blank.')
  if (trimmed.length > MAX_NAME) throw new AppError('BAD_REQUEST', `A folder name can be at most ${MAX_NAME} characters long.`)
  return trimmed
}
