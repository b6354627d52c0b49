// Messages as a tree per conversation: new turns, streamed replies, the active branch.

import { randomUUID } from 'node:crypto'
import type Database from 'better-sqlite3'
import { AppError } from '../../src-shared/errors.ts'
import type { BranchEntry, DocumentContext, GenerationStats, Message, MessageRole, MessageStatus, ToolCall, ToolUse } from '../../src-shared/types.ts'
import { decodeContent, encodeContent } from './content.ts'
import type { ConversationStore } from './conversations.ts'
import type { Attachment, DocumentStore } from './documents.ts'
import { StreamWriter, type StreamIo, type StreamOutcome } from './stream-writer.ts'

interface MessageRow {
  id: string
  conversation_id: string
  parent_id: string | null
  role: MessageRole
  content: string
  content_utf16: Buffer | null
  status: MessageStatus
  stats: string | null
  model_id: string | null
  error: string | null
  created_at: number
  document_context: string | null
  tool_calls: string | null
  tool: string | null
  edited: 0 | 1
}

/** The parent/child skeleton of one conversation. Root messages hang under ROOT. */
interface Tree {
  parentOf: Map<string, string>
  seqOf: Map<string, number>
  /** Children of each message (and of ROOT), oldest first. */
  children: Map<string, string[]>
}

const ROOT = ''
const COLUMNS =
  'id, conversation_id, parent_id, role, content, content_utf16, status, stats, model_id, error, created_at, document_context, tool_calls, tool, edited'

export type NewMessage = Omit<Message, 'id'>

/** The row alone: its documents come from DocumentStore#linkedTo. */
export function toMessage(row: MessageRow): Message {
  const message: Message = {
    id: row.id,
    conversationId: row.conversation_id,
    parentId: row.parent_id,
    role: row.role,
    content: decodeContent(row.content, row.content_utf16),
    status: row.status,
    stats: row.stats === null ? null : (JSON.parse(row.stats) as GenerationStats),
    modelId: row.model_id,
    error: row.error,
    createdAt: row.created_at,
  }
  if (row.document_context !== null) message.documentContext = JSON.parse(row.document_context) as DocumentContext
  if (row.tool_calls !== null) message.toolCalls = JSON.parse(row.tool_calls) as ToolCall[]
  if (row.tool !== null) message.tool = JSON.parse(row.tool) as ToolUse
  if (row.edited === 1) message.edited = true
  return message
}

export class MessageStore {
  readonly #db: Database.Database
  readonly #conversations: ConversationStore
  readonly #documents: DocumentStore
  readonly #now: () => number
  readonly #flushIntervalMs: number
  readonly #io: StreamIo
  readonly #get: Database.Statement<[string], MessageRow>
  readonly #list: Database.Statement<[string], MessageRow>
  readonly #skeleton: Database.Statement<[string], { seq: number; id: string; parent_id: string | null }>
  readonly #path: Database.Statement<[string], MessageRow>
  readonly #insert: Database.Statement<[MessageRow]>
  readonly #reopen: Database.Statement<[string]>
  readonly #setDocumentContext: Database.Statement<[string, string]>
  readonly #recover: Database.Statement<[]>
  readonly #setToolCalls: Database.Statement<[string, string]>
  readonly #setTool: Database.Statement<[string, string]>
  readonly #finishTool: Database.Statement<[{ id: string; status: MessageStatus; content: string; content_utf16: Buffer | null; error: string | null; tool: string }]>

  constructor(
    db: Database.Database,
    conversations: ConversationStore,
    documents: DocumentStore,
    options: { now: () => number; flushIntervalMs: number },
  ) {
    this.#db = db
    this.#conversations = conversations
    this.#documents = documents
    this.#now = options.now
    this.#flushIntervalMs = options.flushIntervalMs
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM messages WHERE id = ?`)
    this.#list = db.prepare(`SELECT ${COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY seq`)
    this.#skeleton = db.prepare(
      'SELECT seq, id, parent_id FROM messages WHERE conversation_id = ? ORDER BY parent_id, seq',
    )
    this.#path = db.prepare(`SELECT ${COLUMNS} FROM messages WHERE seq IN (SELECT value FROM json_each(?))`)
    this.#insert = db.prepare(`INSERT INTO messages (${COLUMNS}) VALUES (@id, @conversation_id, @parent_id,
      @role, @content, @content_utf16, @status, @stats, @model_id, @error, @created_at, @document_context, @tool_calls, @tool, @edited)`)
    this.#reopen = db.prepare(`UPDATE messages SET status = 'streaming', error = NULL WHERE id = ?`)
    this.#setDocumentContext = db.prepare('UPDATE messages SET document_context = ? WHERE id = ?')
    this.#recover = db.prepare(`UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'`)
    this.#setToolCalls = db.prepare(`UPDATE messages SET tool_calls = ? WHERE id = ? AND role = 'assistant'`)
    this.#setTool = db.prepare(`UPDATE messages SET tool = ? WHERE id = ? AND role = 'tool' AND status = 'streaming'`)
    this.#finishTool = db.prepare(`UPDATE messages SET status = @status, content = @content, content_utf16 = @content_utf16,
      error = @error, tool = @tool WHERE id = @id AND role = 'tool' AND status = 'streaming'`)
    this.#io = this.#streamIo(db)
  }

  get(id: string): Message {
    const row = this.#get.get(id)
    if (row === undefined) throw new AppError('NOT_FOUND', `There is no message ${id}.`)
    return this.#withDocuments([toMessage(row)])[0]!
  }

  /** Every message of the conversation, every branch, oldest first. */
  list(conversationId: string): Message[] {
    this.#conversations.get(conversationId)
    return this.#withDocuments(this.#list.all(conversationId).map(toMessage))
  }

  /**
   * A user turn under `parentId` (null: a first message), with the documents it attaches (see
   * DocumentStore#link); all of it or, on any refusal, nothing. When the parent already has
   * children this starts a new branch; either way the new message becomes the active leaf.
   */
  addUser(conversationId: string, parentId: string | null, content: string, attachments: readonly Attachment[] = []): Message {
    return this.#db.transaction(() => {
      const message = this.#addTurn(conversationId, parentId, 'user', content, 'complete', null)
      if (attachments.length === 0) return message
      this.#documents.link(message.id, attachments)
      return this.#withDocuments([message])[0]!
    })()
  }

  /** How a user message's documents reached the model, fixed once it is first answered [TAG_DOCUMENT_PREFIX]. */
  setDocumentContext(messageId: string, context: DocumentContext): void {
    if (this.#setDocumentContext.run(JSON.stringify(context), messageId).changes === 0) {
      throw new AppError('NOT_FOUND', `There is no message ${messageId}.`)
    }
  }

  /** A reply row with status 'streaming', and the writer that fills it. */
  startAssistant(conversationId: string, parentId: string | null, modelId: string | null): StreamWriter {
    const message = this.#db.transaction(() =>
      this.#addTurn(conversationId, parentId, 'assistant', '', 'streaming', modelId),
    )()
    return new StreamWriter(this.#io, message.id, '', this.#flushIntervalMs)
  }

  /** Continues an existing reply (interrupted, failed or cut at its length limit) in place. */
  resume(messageId: string): StreamWriter {
    const message = this.#db.transaction(() => {
      const message = this.get(messageId)
      this.#conversations.get(message.conversationId)
      if (message.role !== 'assistant') throw new AppError('BAD_REQUEST', 'Only a reply can be continued.')
      if (message.status === 'streaming') throw new AppError('CONFLICT', 'This reply is still being written.')
      this.#reopen.run(messageId)
      return message
    })()
    return new StreamWriter(this.#io, messageId, message.content, this.#flushIntervalMs)
  }

  /**
   * The user's text for a reply, as a new branch beside it (the model's reply stays): marked
   * edited, under the same model, with no stats nor calls. It becomes the active leaf.
   */
  addEditedReply(messageId: string, content: string): Message {
    return this.#db.transaction(() => {
      const original = this.get(messageId)
      this.#conversations.get(original.conversationId)
      if (original.role !== 'assistant') throw new AppError('BAD_REQUEST', 'Only a reply can be rewritten: edit your own message to send it again.')
      if (original.status === 'streaming') throw new AppError('CONFLICT', 'This reply is still being written.')
      const message = this.insert({
        conversationId: original.conversationId,
        parentId: original.parentId,
        role: 'assistant',
        content,
        status: 'complete',
        stats: null,
        modelId: original.modelId,
        error: null,
        createdAt: this.#now(),
        edited: true,
      })
      this.#conversations.touch(original.conversationId, message.id)
      return message
    })()
  }

  /** The calls an assistant message made, kept with it once its text is written. */
  setToolCalls(messageId: string, calls: readonly ToolCall[]): Message {
    if (this.#setToolCalls.run(JSON.stringify(calls), messageId).changes === 0) {
      throw new AppError('NOT_FOUND', `There is no reply ${messageId}.`)
    }
    return this.get(messageId)
  }

  /** A tool call's message under `parentId`, status 'streaming' until `finishTool`: it becomes the active leaf. */
  addTool(conversationId: string, parentId: string, tool: ToolUse): Message {
    return this.#db.transaction(() => {
      const message = this.#addTurn(conversationId, parentId, 'tool', '', 'streaming', null, tool)
      return message
    })()
  }

  /** The call's new state (approved, running) while it has no result. */
  updateTool(messageId: string, tool: ToolUse): Message {
    if (this.#setTool.run(JSON.stringify(tool), messageId).changes === 0) {
      throw new AppError('NOT_FOUND', `There is no tool call ${messageId} waiting or running.`)
    }
    return this.get(messageId)
  }

  /** The call's result (complete) or why it has none (error: failed, denied, timed out, cancelled). */
  finishTool(messageId: string, outcome: { status: 'complete' | 'error' | 'interrupted'; content: string; error: string | null; tool: ToolUse }): Message {
    const content = encodeContent(outcome.content)
    const changed = this.#finishTool.run({
      id: messageId,
      status: outcome.status,
      content: content.text,
      content_utf16: content.utf16,
      error: outcome.error,
      tool: JSON.stringify(outcome.tool),
    }).changes
    if (changed === 0) throw new AppError('NOT_FOUND', `There is no tool call ${messageId} waiting or running.`)
    return this.get(messageId)
  }

  /**
   * For import: a message with every field given. Keeps parent and conversation as they are; its
   * documents must be stored already, and are attached under the names they carry.
   */
  insert(message: NewMessage): Message {
    const { documents = [], documentContext = null, toolCalls, tool, edited, ...fields } = message
    if ((message.role === 'tool') !== (tool !== undefined)) throw new AppError('BAD_REQUEST', 'A tool message, and only one, names the call it answers.')
    const id = randomUUID()
    const content = encodeContent(message.content)
    this.#insert.run({
      id,
      conversation_id: message.conversationId,
      parent_id: message.parentId,
      role: message.role,
      content: content.text,
      content_utf16: content.utf16,
      status: message.status,
      stats: message.stats === null ? null : JSON.stringify(message.stats),
      model_id: message.modelId,
      error: message.error,
      created_at: message.createdAt,
      document_context: documentContext === null ? null : JSON.stringify(documentContext),
      tool_calls: toolCalls === undefined ? null : JSON.stringify(toolCalls),
      tool: tool === undefined ? null : JSON.stringify(tool),
      edited: edited === true ? 1 : 0,
    })
    const stored: Message = { ...fields, id }
    if (documentContext !== null) stored.documentContext = documentContext
    if (toolCalls !== undefined) stored.toolCalls = toolCalls
    if (tool !== undefined) stored.tool = tool
    if (edited === true) stored.edited = true
    if (documents.length === 0) return stored
    this.#documents.link(id, documents.map((d) => ({ documentId: d.id, name: d.name })))
    return this.#withDocuments([stored])[0]!
  }

  /** The active branch, root first, each message with its siblings for the branch switcher. */
  branch(conversationId: string): BranchEntry[] {
    const conversation = this.#conversations.get(conversationId)
    const tree = this.#tree(conversationId)
    const active = conversation.activeLeafId
    const leaf = active !== null && tree.seqOf.has(active) ? active : newestLeaf(tree, ROOT)
    return leaf === null ? [] : this.#entries(tree, leaf)
  }

  /** Shows the branch through `messageId`: the active leaf becomes the newest leaf under it. */
  switchBranch(conversationId: string, messageId: string): BranchEntry[] {
    this.#conversations.get(conversationId)
    const tree = this.#tree(conversationId)
    if (!tree.seqOf.has(messageId)) {
      throw new AppError('NOT_FOUND', `Message ${messageId} is not part of conversation ${conversationId}.`)
    }
    const leaf = newestLeaf(tree, messageId) ?? messageId
    this.#conversations.setActiveLeaf(conversationId, leaf)
    return this.#entries(tree, leaf)
  }

  /** When each model last wrote a reply, by model id (ms since 1970); models that never did are absent. */
  lastReplyByModel(): Record<string, number> {
    const rows = this.#db
      .prepare<[], { model_id: string; at: number }>(`SELECT model_id, max(created_at) AS at FROM messages WHERE role = 'assistant' AND model_id IS NOT NULL GROUP BY model_id`)
      .all()
    return Object.fromEntries(rows.map((r) => [r.model_id, r.at]))
  }

  /** At start-up: replies left 'streaming' by a crash become 'interrupted', text kept. */
  recoverStreaming(): number {
    return this.#recover.run().changes
  }

  #addTurn(
    conversationId: string,
    parentId: string | null,
    role: MessageRole,
    content: string,
    status: MessageStatus,
    modelId: string | null,
    tool?: ToolUse,
  ): Message {
    this.#conversations.get(conversationId)
    if (parentId !== null) {
      const parent = this.#get.get(parentId)
      if (parent === undefined || parent.conversation_id !== conversationId) {
        throw new AppError('NOT_FOUND', `Message ${parentId} is not part of conversation ${conversationId}.`)
      }
    }
    const message = this.insert({
      conversationId,
      parentId,
      role,
      content,
      status,
      stats: null,
      modelId,
      error: null,
      createdAt: this.#now(),
      ...(tool === undefined ? {} : { tool }),
    })
    this.#conversations.touch(conversationId, message.id)
    return message
  }

  #tree(conversationId: string): Tree {
    const tree: Tree = { parentOf: new Map(), seqOf: new Map(), children: new Map() }
    for (const { seq, id, parent_id } of this.#skeleton.iterate(conversationId)) {
      const parent = parent_id ?? ROOT
      tree.parentOf.set(id, parent)
      tree.seqOf.set(id, seq)
      const siblings = tree.children.get(parent)
      if (siblings === undefined) tree.children.set(parent, [id])
      else siblings.push(id)
    }
    return tree
  }

  #entries(tree: Tree, leaf: string): BranchEntry[] {
    const depth = new Map<string, number>()
    const seqs: number[] = []
    for (let id: string | undefined = leaf; id !== undefined && id !== ROOT; id = tree.parentOf.get(id)) {
      depth.set(id, depth.size)
      seqs.push(tree.seqOf.get(id) ?? -1)
    }
    const entries = new Array<BranchEntry>(depth.size)
    const rows = this.#path.all(JSON.stringify(seqs))
    const messages = this.#withDocuments(rows.map(toMessage))
    for (const [i, row] of rows.entries()) {
      const siblingIds = tree.children.get(row.parent_id ?? ROOT) ?? [row.id]
      entries[depth.size - 1 - (depth.get(row.id) ?? 0)] = {
        message: messages[i]!,
        siblingIds,
        siblingIndex: siblingIds.indexOf(row.id),
      }
    }
    return entries
  }

  /** The messages, each given the documents it attaches (one query for all of them). */
  #withDocuments(messages: Message[]): Message[] {
    const linked = this.#documents.linkedTo(messages.map((m) => m.id))
    for (const m of messages) {
      const documents = linked.get(m.id)
      if (documents !== undefined) m.documents = documents
    }
    return messages
  }

  /** Text written to a 'streaming' row stays out of the search index until `complete` [TAG_FTS_SYNC]. */
  #streamIo(db: Database.Database): StreamIo {
    const append = db.prepare<[string, string]>(
      `UPDATE messages SET content = content || ? WHERE id = ? AND status = 'streaming'`,
    )
    const replace = db.prepare<[string, Buffer | null, string]>(
      `UPDATE messages SET content = ?, content_utf16 = ? WHERE id = ? AND status = 'streaming'`,
    )
    const complete = db.prepare<[string, string | null, string | null, string]>(
      `UPDATE messages SET status = ?, stats = ?, error = ? WHERE id = ? AND status = 'streaming'`,
    )
    return {
      append: (id, piece) => append.run(piece, id).changes === 1,
      replace: (id, content) => replace.run(content.text, content.utf16, id).changes === 1,
      complete: (id, outcome: StreamOutcome) => {
        const stats = outcome.stats == null ? null : JSON.stringify(outcome.stats)
        if (complete.run(outcome.status, stats, outcome.error ?? null, id).changes === 0) {
          throw new AppError('NOT_FOUND', 'The reply being written was deleted or finished elsewhere.')
        }
        const message = this.get(id)
        this.#conversations.touch(message.conversationId, null)
        return message
      },
      transaction: (fn) => db.transaction(fn)(),
    }
  }
}

/** The most recently created leaf at or under `from` (ROOT: the whole conversation). */
function newestLeaf(tree: Tree, from: string): string | null {
  let best: string | null = null
  let bestSeq = -1
  const stack = from === ROOT ? [...(tree.children.get(ROOT) ?? [])] : [from]
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    const children = tree.children.get(id)
    if (children !== undefined) stack.push(...children)
    else if ((tree.seqOf.get(id) ?? -1) > bestSeq) {
      best = id
      bestSeq = tree.seqOf.get(id) ?? -1
    }
  }
  return best
}
