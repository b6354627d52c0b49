// Conversations: list, create, change, and delete with a window for undo before the purge.

import { randomUUID } from 'node:crypto'
import type Database from 'better-sqlite3'
import { AppError } from '../../src-shared/errors.ts'
import type {
  ContextPolicy,
  Conversation,
  ConversationListOptions,
  ConversationPatch,
  GenerationParams,
  NewConversation,
} from '../../src-shared/types.ts'
import { z } from 'zod'
import { contextPolicySchema, describeIssue, mcpServerNameSchema, paramsPatchSchema } from './schemas.ts'

interface ConversationRow {
  id: string
  title: string
  created_at: number
  updated_at: number
  model_id: string | null
  system_prompt: string
  params: string
  context_policy: ContextPolicy
  pinned: 0 | 1
  archived: 0 | 1
  active_leaf_id: string | null
  tool_servers: string
  folder_id: string | null
}

export interface ConversationStoreOptions {
  now: () => number
  undoWindowMs: number
  /** What a new conversation gets for the fields its caller leaves out (from settings). */
  defaults: () => { modelId: string | null; systemPrompt: string; contextPolicy: ContextPolicy }
}

const COLUMNS =
  'id, title, created_at, updated_at, model_id, system_prompt, params, context_policy, pinned, archived, active_leaf_id, tool_servers, folder_id'
export const DEFAULT_TITLE = 'New chat'
const MAX_TITLE = 500

export function toConversation(row: ConversationRow): Conversation {
  return {
    id: row.id,
    title: row.title,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    modelId: row.model_id,
    systemPrompt: row.system_prompt,
    params: JSON.parse(row.params) as Partial<GenerationParams>,
    contextPolicy: row.context_policy,
    pinned: row.pinned === 1,
    archived: row.archived === 1,
    activeLeafId: row.active_leaf_id,
    toolServers: JSON.parse(row.tool_servers) as string[],
    folderId: row.folder_id,
  }
}

export class ConversationStore {
  readonly #options: ConversationStoreOptions
  readonly #list: Database.Statement<[number, number, number], ConversationRow>
  readonly #get: Database.Statement<[string], ConversationRow>
  readonly #insert: Database.Statement<[ConversationRow]>
  readonly #write: Database.Statement<[ConversationRow]>
  readonly #softDelete: Database.Statement<[number, string]>
  readonly #restore: Database.Statement<[string, number]>
  readonly #purgeUpTo: (cutoff: number) => number
  readonly #discard: Database.Statement<[string]>
  readonly #touch: Database.Statement<[number, string | null, string]>
  readonly #setLeaf: Database.Statement<[string, string]>
  readonly #folderExists: Database.Statement<[string], { id: string }>

  constructor(db: Database.Database, options: ConversationStoreOptions) {
    this.#options = options
    this.#list = db.prepare(`SELECT ${COLUMNS} FROM conversations
      WHERE deleted_at IS NULL AND archived = ? ORDER BY pinned DESC, updated_at DESC LIMIT ? OFFSET ?`)
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM conversations WHERE id = ? AND deleted_at IS NULL`)
    this.#insert = db.prepare(`INSERT INTO conversations (${COLUMNS}) VALUES
      (@id, @title, @created_at, @updated_at, @model_id, @system_prompt, @params, @context_policy, @pinned, @archived, @active_leaf_id, @tool_servers, @folder_id)`)
    this.#write = db.prepare(`UPDATE conversations SET title = @title, model_id = @model_id,
      system_prompt = @system_prompt, params = @params, context_policy = @context_policy,
      pinned = @pinned, archived = @archived, tool_servers = @tool_servers, folder_id = @folder_id WHERE id = @id`)
    this.#softDelete = db.prepare('UPDATE conversations SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL')
    this.#restore = db.prepare('UPDATE conversations SET deleted_at = NULL WHERE id = ? AND deleted_at >= ?')
    // Messages go first, newest first, so that each is a leaf when deleted: left to the foreign
    // keys, a long chain cascades one trigger level per message, past SQLite's limit of 1000.
    const purgedMessages = db.prepare<[number], { id: string }>(`SELECT m.id FROM messages AS m
      JOIN conversations AS c ON c.id = m.conversation_id WHERE c.deleted_at IS NOT NULL AND c.deleted_at <= ? ORDER BY m.seq DESC`)
    const deleteMessage = db.prepare<[string]>('DELETE FROM messages WHERE id = ?')
    const purge = db.prepare<[number]>('DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?')
    this.#purgeUpTo = db.transaction((cutoff: number) => {
      for (const { id } of purgedMessages.all(cutoff)) deleteMessage.run(id)
      return purge.run(cutoff).changes
    })
    this.#discard = db.prepare('DELETE FROM conversations WHERE id = ?')
    this.#touch = db.prepare(
      'UPDATE conversations SET updated_at = ?, active_leaf_id = coalesce(?, active_leaf_id) WHERE id = ?',
    )
    this.#setLeaf = db.prepare('UPDATE conversations SET active_leaf_id = ? WHERE id = ?')
    this.#folderExists = db.prepare('SELECT id FROM folders WHERE id = ?')
  }

  /** Pinned first, then most recently updated; deleted ones never appear. */
  list(options: ConversationListOptions = {}): Conversation[] {
    const { archived = false, limit = -1, offset = 0 } = options
    return this.#list.all(archived ? 1 : 0, limit, offset).map(toConversation)
  }

  get(id: string): Conversation {
    const row = this.#get.get(id)
    if (row === undefined) throw new AppError('NOT_FOUND', `There is no conversation ${id}.`)
    return toConversation(row)
  }

  create(init: NewConversation = {}): Conversation {
    return this.insert(this.draft(init))
  }

  /** What `create` stores for `init`, the settings' defaults filled in, not stored: a new chat before its first message. */
  draft(init: NewConversation = {}): Omit<Conversation, 'id' | 'activeLeafId'> {
    const defaults = this.#options.defaults()
    const now = this.#options.now()
    return {
      title: init.title ?? DEFAULT_TITLE,
      createdAt: now,
      updatedAt: now,
      modelId: init.modelId === undefined ? defaults.modelId : init.modelId,
      systemPrompt: init.systemPrompt ?? defaults.systemPrompt,
      params: init.params ?? {},
      contextPolicy: init.contextPolicy ?? defaults.contextPolicy,
      pinned: false,
      archived: false,
      toolServers: init.toolServers ?? [],
      folderId: init.folderId ?? null,
    }
  }

  /** A conversation with every field given (import uses it directly), under a new id. */
  insert(fields: Omit<Conversation, 'id' | 'activeLeafId'>): Conversation {
    const row: ConversationRow = {
      id: randomUUID(),
      title: checkTitle(fields.title),
      created_at: fields.createdAt,
      updated_at: fields.updatedAt,
      model_id: fields.modelId,
      system_prompt: fields.systemPrompt,
      params: JSON.stringify(checkParams(fields.params)),
      context_policy: checkPolicy(fields.contextPolicy),
      pinned: fields.pinned ? 1 : 0,
      archived: fields.archived ? 1 : 0,
      active_leaf_id: null,
      tool_servers: JSON.stringify(checkToolServers(fields.toolServers)),
      folder_id: this.#checkFolder(fields.folderId),
    }
    this.#insert.run(row)
    return toConversation(row)
  }

  /** Changes what the patch names; the conversation's place in the list (updatedAt) stays. */
  update(id: string, patch: ConversationPatch): Conversation {
    const current = this.get(id)
    const next: Conversation = {
      ...current,
      title: patch.title === undefined ? current.title : checkTitle(patch.title),
      modelId: patch.modelId === undefined ? current.modelId : patch.modelId,
      systemPrompt: patch.systemPrompt ?? current.systemPrompt,
      params: patch.params === undefined ? current.params : checkParams(patch.params),
      contextPolicy: patch.contextPolicy === undefined ? current.contextPolicy : checkPolicy(patch.contextPolicy),
      pinned: patch.pinned ?? current.pinned,
      archived: patch.archived ?? current.archived,
      toolServers: patch.toolServers === undefined ? current.toolServers : checkToolServers(patch.toolServers),
      folderId: patch.folderId === undefined ? current.folderId : this.#checkFolder(patch.folderId),
    }
    this.#write.run({
      id,
      title: next.title,
      created_at: next.createdAt,
      updated_at: next.updatedAt,
      model_id: next.modelId,
      system_prompt: next.systemPrompt,
      params: JSON.stringify(next.params),
      context_policy: next.contextPolicy,
      pinned: next.pinned ? 1 : 0,
      archived: next.archived ? 1 : 0,
      active_leaf_id: next.activeLeafId,
      tool_servers: JSON.stringify(next.toolServers),
      folder_id: next.folderId,
    })
    return next
  }

  /**
   * Hides the conversation at once; `restore` brings it back until `undoUntil`, after which
   * the next purge removes it for good. Also purges earlier deletes whose window has passed.
   */
  delete(id: string): { undoUntil: number } {
    const now = this.#options.now()
    if (this.#softDelete.run(now, id).changes === 0) throw new AppError('NOT_FOUND', `There is no conversation ${id}.`)
    this.purgeExpired()
    return { undoUntil: now + this.#options.undoWindowMs }
  }

  restore(id: string): Conversation {
    const since = this.#options.now() - this.#options.undoWindowMs
    if (this.#restore.run(id, since).changes === 0) {
      throw new AppError('NOT_FOUND', 'This conversation can no longer be restored: the time to undo its deletion has passed.')
    }
    return this.get(id)
  }

  /** Removes the conversation for good at once, with its messages: one that was never shown (its first send failed). */
  discard(id: string): void {
    this.#discard.run(id)
  }

  /** Removes deleted conversations whose undo window has passed, with their messages. */
  purgeExpired(): number {
    return this.#purgeUpTo(this.#options.now() - this.#options.undoWindowMs - 1)
  }

  /** Removes every deleted conversation: at start-up no undo is on offer any more. */
  purgeAllDeleted(): number {
    return this.#purgeUpTo(Number.MAX_SAFE_INTEGER)
  }

  /** Marks new activity (moves it up the list) and, when given, a new active leaf. */
  touch(id: string, activeLeafId: string | null): void {
    this.#touch.run(this.#options.now(), activeLeafId, id)
  }

  /** Which branch the user looks at; not activity, so the list order stays. */
  setActiveLeaf(id: string, leafId: string): void {
    this.#setLeaf.run(leafId, id)
  }

  #checkFolder(folderId: string | null): string | null {
    if (folderId !== null && this.#folderExists.get(folderId) === undefined) {
      throw new AppError('NOT_FOUND', `There is no folder ${folderId}.`)
    }
    return folderId
  }
}

function checkTitle(title: string): string {
  const trimmed = title.trim()
  if (trimmed === '') throw new AppError('BAD_REQUEST', 'A conversation needs a title that is not blank.')
  if (trimmed.length > MAX_TITLE) throw new AppError('BAD_REQUEST', `A title can be at most ${MAX_TITLE} characters long.`)
  return trimmed
}

function checkParams(params: Partial<GenerationParams>): Partial<GenerationParams> {
  const parsed = paramsPatchSchema.safeParse(params)
  if (!parsed.success) throw new AppError('BAD_REQUEST', `Invalid generation parameters: ${describeIssue(parsed.error)}`)
  return parsed.data
}

function checkToolServers(names: readonly string[]): string[] {
  const parsed = z.array(mcpServerNameSchema).max(64).safeParse(names)
  if (!parsed.success) throw new AppError('BAD_REQUEST', `Invalid tool servers: ${describeIssue(parsed.error)}`)
  return [...new Set(parsed.data)]
}

function checkPolicy(policy: ContextPolicy): ContextPolicy {
  const parsed = contextPolicySchema.safeParse(policy)
  if (!parsed.success) throw new AppError('BAD_REQUEST', `Unknown context policy "${String(policy)}".`)
  return parsed.data
}
