// The open conversation: its active branch, replies streaming into it, and every chat action.

import type {
  BranchEntry,
  Conversation,
  ConversationPatch,
  ConversationView,
  GenerationParams,
  Message,
  NewConversation,
  PrefillProgress,
  ReplyState,
  StartedConversation,
} from '../../src-shared/types.ts'
import { api } from './api.ts'
import { DRAFT_ID, draftInit, isDraft, patchDraft } from './draft.ts'
import { FramePacer } from './frame-pacer.ts'
import { SentenceReader } from './sentences.ts'
import { ui } from './ui.svelte.ts'

class ChatState {
  /** Replaced whole, never mutated: a 1,000-message branch must not become 1,000 proxies. */
  view = $state.raw<ConversationView | null>(null)
  /** Text of replies streaming in the open conversation, by message id; tokens append here. */
  live = $state<Record<string, string>>({})
  /** How far the prompt of a reply with no token yet has been prefilled, by message id. */
  prefill = $state<Record<string, PrefillProgress>>({})
  /**
   * Where each reply being generated stands (waiting for the engine, writing), by message id, in
   * every chat: a chat's first reply is queued before its view comes, and a chat opened again
   * still says what its reply waits for.
   */
  replyStates = $state<Record<string, ReplyState>>({})
  loading = $state(false)
  /** A message to scroll to and highlight (a search hit). */
  focusMessageId = $state<string | null>(null)
  /** A new chat not stored yet (draft.ts); for a moment, the chat its first message created, until its view comes. */
  draft = $state.raw<Conversation | null>(null)
  /** What the draft's blank parameters come to, as main settles them. */
  #draftInherited = $state.raw<GenerationParams | null>(null)
  /** Only the newest preview of the draft may land. */
  #previews = 0
  /** Speaks the streaming reply in the live region. */
  #reader = new SentenceReader()
  /** Only the newest reload may land: an older one finishing late would show stale state. */
  #reloads = 0
  /** Tokens not yet shown: flushed at most once per frame (frame-pacer.ts), so a fast model costs one render per frame. */
  #pending = new Map<string, string>()
  #pacer = new FramePacer(() => this.#flush())

  get conversation(): Conversation | null {
    return this.view?.conversation ?? this.draft
  }

  get isDraft(): boolean {
    return this.view === null && isDraft(this.draft)
  }

  /** What each parameter left blank comes to, as main settles it (for a draft too). */
  get inheritedParams(): GenerationParams | null {
    if (this.view) return this.view.inheritedParams
    return this.draft ? this.#draftInherited : null
  }

  get branch(): BranchEntry[] {
    return this.view?.branch ?? []
  }

  get generatingId(): string | null {
    return this.view?.generatingMessageId ?? null
  }

  get generating(): boolean {
    return this.generatingId !== null
  }

  /** Older turns some reply on this branch had to drop to fit the context. */
  get droppedTurns(): number {
    let dropped = 0
    for (const { message } of this.branch) dropped = Math.max(dropped, message.stats?.droppedMessages?.length ?? 0)
    return dropped
  }

  /**
   * Messages of the branch the latest reply's prompt left out to fit the context: the model no
   * longer sees them. Rows from before ids were kept mark none.
   */
  get outOfContext(): ReadonlySet<string> {
    const latest = this.branch.findLast((e) => e.message.role === 'assistant' && e.message.stats !== null)
    return new Set(latest?.message.stats?.droppedMessageIds ?? [])
  }

  textOf(message: Message): string {
    return this.live[message.id] ?? message.content
  }

  constructor() {
    api.on('token', ({ conversationId, messageId, text }) => {
      if (conversationId !== this.conversation?.id) return
      if (this.prefill[messageId]) delete this.prefill[messageId]
      this.#pending.set(messageId, (this.#pending.get(messageId) ?? '') + text)
      this.#pacer.request()
    })
    api.on('done', ({ conversationId, messageId, message }) => {
      delete this.replyStates[messageId]
      if (conversationId !== this.conversation?.id) return
      this.#flush()
      this.#speak(message.content, true)
      this.#replaceMessage(message)
      if (this.view?.generatingMessageId === messageId) this.view = { ...this.view, generatingMessageId: null }
      delete this.live[messageId]
      delete this.prefill[messageId]
      void this.reload()
    })
    api.on('prefillProgress', (progress) => {
      // A late report must not bring the bar back once the reply's text has begun.
      if (progress.conversationId === this.conversation?.id && this.live[progress.messageId] === undefined && !this.#pending.has(progress.messageId)) {
        this.prefill[progress.messageId] = progress
      }
    })
    api.on('replyState', (state) => {
      this.replyStates[state.messageId] = state
    })
    api.on('generationError', ({ conversationId, error }) => {
      if (conversationId === this.conversation?.id) ui.toast(error.message, { kind: 'error', ms: 10_000 })
    })
    api.on('messageChanged', ({ conversationId, message }) => {
      if (conversationId !== this.conversation?.id) return
      // A message new to this branch (a tool call, the reply to its result) comes with the branch.
      if (!this.#replaceMessage(message)) void this.reload()
    })
    api.on('conversationChanged', ({ conversationId, conversation }) => this.adopt(conversationId, conversation))
  }

  /** A newer copy of the open conversation's fields; null: it was deleted. */
  adopt(conversationId: string, conversation: Conversation | null): void {
    if (!this.view || conversationId !== this.view.conversation.id) return
    if (!conversation) {
      this.close()
      return
    }
    const previous = this.view.conversation
    const modelChanged = conversation.modelId !== previous.modelId
    const paramsChanged = JSON.stringify(conversation.params) !== JSON.stringify(previous.params)
    this.view = { ...this.view, conversation }
    // What the view says about the model (its context, whether it can continue, the parameters a
    // blank field inherits) is main's to tell.
    if (modelChanged || paramsChanged) void this.reload()
  }

  async open(conversationId: string, focusMessageId: string | null = null): Promise<void> {
    this.loading = true
    this.live = {}
    this.prefill = {}
    this.#pending.clear()
    try {
      let view = await api.getConversation(conversationId)
      if (focusMessageId && !view.branch.some((e) => e.message.id === focusMessageId)) {
        view = await api.switchBranch(focusMessageId)
      }
      this.view = view
      if (view.replyState) this.replyStates[view.replyState.messageId] = view.replyState
      this.draft = null
      this.focusMessageId = focusMessageId
    } finally {
      this.loading = false
    }
  }

  close(): void {
    this.view = null
    this.draft = null
    this.live = {}
    this.prefill = {}
    this.#pending.clear()
  }

  async reload(): Promise<void> {
    const id = this.conversation?.id
    if (!id) return
    const ticket = ++this.#reloads
    const view = await api.getConversation(id)
    if (ticket === this.#reloads && this.conversation?.id === id) this.view = view
  }

  /** Opens a new chat, stored only with its first message; `init` sets it up as createConversation would. */
  async startDraft(init: NewConversation = {}): Promise<void> {
    const ticket = ++this.#previews
    const preview = await api.previewConversation(init)
    if (ticket !== this.#previews) return
    this.close()
    this.draft = { ...preview.conversation, id: DRAFT_ID }
    this.#draftInherited = preview.inheritedParams
  }

  /** The draft's model, system prompt, parameters or tools, changed: its first message creates it with them. */
  patchDraft(patch: ConversationPatch): Conversation {
    if (!this.isDraft || !this.draft) throw new Error('No new chat is open.')
    this.draft = patchDraft(this.draft, patch)
    // What blank parameters come to depends on the model and the parameters set.
    if (patch.modelId !== undefined || patch.params !== undefined) void this.#previewDraft(this.draft)
    return this.draft
  }

  async #previewDraft(draft: Conversation): Promise<void> {
    const ticket = ++this.#previews
    try {
      const { inheritedParams } = await api.previewConversation(draftInit(draft))
      if (ticket === this.#previews && this.isDraft) this.#draftInherited = inheritedParams
    } catch (err) {
      ui.error(err)
    }
  }

  /** Resolves false (and says why) when main refused: the composer keeps the text and files then. */
  async send(text: string, documentIds: string[] = []): Promise<boolean> {
    if (this.isDraft && this.draft) return this.#start(this.draft, text, documentIds)
    const view = this.view
    if (!view) return false
    try {
      const { userMessage, reply } = await (documentIds.length > 0
        ? api.send(view.conversation.id, text, documentIds)
        : // No third argument at all: over the browser bridge an undefined one would arrive as null.
          api.send(view.conversation.id, text))
      if (this.view?.conversation.id === view.conversation.id) {
        const entry = (message: Message): BranchEntry => ({ message, siblingIds: [message.id], siblingIndex: 0 })
        this.view = { ...this.view, branch: [...this.view.branch, entry(userMessage), entry(reply)], generatingMessageId: reply.id }
      }
      return true
    } catch (err) {
      ui.error(err)
      return false
    }
  }

  /** The draft's first message creates it; refused, nothing is stored and the draft stays as it was. */
  async #start(draft: Conversation, text: string, documentIds: string[]): Promise<boolean> {
    let started: StartedConversation
    try {
      // No third argument at all: over the browser bridge an undefined one would arrive as null.
      started = await (documentIds.length > 0 ? api.startConversation(draftInit(draft), text, documentIds) : api.startConversation(draftInit(draft), text))
    } catch (err) {
      ui.error(err)
      return false
    }
    // Left meanwhile: the new chat is in the sidebar.
    if (this.draft !== draft) return true
    // Its events are this chat's from now on; its view (the message, the reply streaming) follows.
    this.draft = started.conversation
    try {
      await this.reload()
    } catch (err) {
      ui.error(err)
    }
    if (this.view) this.draft = null
    return true
  }

  async stop(): Promise<void> {
    const id = this.conversation?.id
    if (id && this.generating) await api.stop(id).catch((err: unknown) => ui.error(err))
  }

  regenerate(messageId: string): Promise<void> {
    return this.#act(() => api.regenerate(messageId))
  }

  /** Your message edited is sent again; a reply edited is kept as your text, and nothing is generated. */
  edit(messageId: string, text: string): Promise<void> {
    const role = this.branch.find((e) => e.message.id === messageId)?.message.role
    return this.#act(() => (role === 'assistant' ? api.editReply(messageId, text) : api.editMessage(messageId, text)))
  }

  /** Deletes the message with everything below it, and offers an undo for as long as main keeps it. */
  async remove(messageId: string): Promise<void> {
    const id = this.conversation?.id
    try {
      const { undoUntil } = await api.deleteMessage(messageId)
      await this.reload()
      ui.toast('Message deleted', {
        ms: Math.max(1000, undoUntil - Date.now()),
        action: { label: 'Undo', run: () => void this.#undoRemove(id, messageId) },
      })
    } catch (err) {
      ui.error(err)
    }
  }

  async #undoRemove(conversationId: string | undefined, messageId: string): Promise<void> {
    try {
      const view = await api.undoDeleteMessage(messageId)
      if (this.conversation?.id === conversationId) this.view = view
    } catch (err) {
      ui.error(err)
    }
  }

  continueReply(messageId: string): Promise<void> {
    return this.#act(() => api.continueReply(messageId))
  }

  async switchBranch(messageId: string): Promise<void> {
    try {
      this.view = await api.switchBranch(messageId)
    } catch (err) {
      ui.error(err)
    }
  }

  async #act(action: () => Promise<unknown>): Promise<void> {
    try {
      await action()
      await this.reload()
    } catch (err) {
      ui.error(err)
    }
  }

  #flush(): void {
    for (const [messageId, text] of this.#pending) {
      if (this.live[messageId] === undefined) {
        // A continued reply streams on from the text it already has.
        const base = this.branch.find((e) => e.message.id === messageId)?.message.content ?? ''
        this.live[messageId] = base
        this.#reader = new SentenceReader(base.length)
      }
      this.live[messageId] += text
      this.#speak(this.live[messageId], false)
    }
    this.#pending.clear()
  }

  /** False when the branch shown does not hold the message. */
  #replaceMessage(message: Message): boolean {
    const view = this.view
    const i = view?.branch.findIndex((e) => e.message.id === message.id) ?? -1
    if (!view || i === -1) return false
    const branch = view.branch.slice()
    branch[i] = { ...branch[i]!, message }
    this.view = { ...view, branch }
    return true
  }

  #speak(text: string, final: boolean): void {
    const sentences = this.#reader.read(text, final)
    if (final) this.#reader = new SentenceReader()
    if (sentences.length) ui.announce(sentences.join(' '))
  }
}

export const chat = new ChatState()
