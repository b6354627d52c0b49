// Generations: a reply row streamed from its generator into the store and out as events, one per
// conversation at a time; stop, regenerate, edit, continue; an engine crash kept as an error.
// With tools: the calls a reply makes are asked of the user, run on their MCP servers, and their
// results fed back to the model, which replies again, all as one generation of the conversation.

import { AppError, type ErrorData } from '../../src-shared/errors.ts'
import { mergeParams } from '../../src-shared/params.ts'
import type { Conversation, GenerationStats, Message, ReplyPhase, ReplyState, Settings, ToolCall, ToolDecision, ToolUse, Turn } from '../../src-shared/types.ts'
import type { McpHub } from '../mcp/hub.ts'
import { DEFAULT_TITLE } from '../store/conversations.ts'
import type { Store } from '../store/store.ts'
import type { StreamOutcome, StreamWriter } from '../store/stream-writer.ts'
import type { DocumentService } from './documents.ts'
import type { EventHub } from './events.ts'
import type { Generator, GeneratorFor, GeneratorRun } from './generator.ts'
import type { ModelService } from './model-service.ts'
import { promptMessageIds, titleFrom } from './prompt.ts'
import { continuedStats } from './reply-stats.ts'

export interface ChatServiceDeps {
  store: Store
  models: ModelService
  /** The engine for local models, a remote provider for theirs. */
  generatorFor: GeneratorFor
  events: EventHub
  settings: () => Settings
  documents: DocumentService
  /** Where the tools of a chat's MCP servers come from; absent: chats have no tools. */
  tools?: Pick<McpHub, 'offered' | 'call'>
  /** Milliseconds on a monotonic clock, for the time a reply waits; tests set it. Default performance.now. */
  now?: () => number
}

/** Replies to tool results in a row: the last one is offered no tools, so the turn ends in words. */
export const MAX_TOOL_ROUNDS = 8
/** A result longer than this many characters is measured in tokens, to cut it to a quarter of the context. */
const MEASURE_RESULT_CHARS = 2000

/** What a generation runs on, chosen before anything is written. */
interface Chosen {
  conversation: Conversation
  modelId: string
  generator: Generator
}

/** The run its generator sees, and what this service keeps beside it. */
interface Generation extends GeneratorRun {
  /** Set by stop, read-only to the generator: a queued generation never starts, a running one is cancelled. */
  cancelled: boolean
  /** Chosen once, with the model: it runs and cancels this generation. */
  generator: Generator
  writer: StreamWriter
  /** The reply row as created; `done` carries it if the row can no longer be read. */
  reply: Message
  /** A continued reply's stats so far: the new run's are added to them. */
  previous: GenerationStats | null
  /** The conversation's system prompt and the branch before the reply: the prompt is built from them once the generation's turn comes. */
  systemPrompt: string
  history: Message[]
  /** A continued reply's text so far; null for a fresh reply. */
  continueText: string | null
  /** A failed write of streamed text; the generation is cancelled and ends with this error. */
  failure: unknown
  /** Ends the wait for the generator of a generation stopped before it started. */
  abandon: () => void
  finished: Promise<void>
  /** Where the reply stands: queued from the start when its generator queues, else null until it reports. */
  phase: ReplyPhase | null
  /** When the reply was asked for, on the `now` clock. */
  requestedAt: number
  /** From the request until the engine took it; null until it did. */
  queueMs: number | null
  /** The message id of each of the request's messages; null for the system prompt and a continued reply's text. */
  promptIds: (string | null)[]
  /** Replies to tool results so far in this generation. */
  round: number
  /** The tools offered to the model, by the name it calls them. */
  route: Map<string, { server: string; tool: string }>
  /** The tool message being asked about or run; null between calls. */
  toolMessageId: string | null
  /** Ends the wait for the user's answer (stop: 'cancel'). */
  answer: ((decision: ToolDecision | 'cancel') => void) | null
  /** Cancels the running call. */
  toolAbort: AbortController | null
}

export class ChatService {
  readonly #deps: ChatServiceDeps
  /** At most one per conversation, queued or running. */
  readonly #generations = new Map<string, Generation>()
  /** The generation whose reply the engine runs (or loads the model for); queued ones wait for it. */
  #engineHolder: Generation | null = null

  constructor(deps: ChatServiceDeps) {
    this.#deps = deps
  }

  /** Generations queued or running, in every conversation. */
  generatingCount(): number {
    return this.#generations.size
  }

  /** The reply being generated in the conversation, or the tool call it waits for; null when none. */
  generatingMessageId(conversationId: string): string | null {
    const generation = this.#generations.get(conversationId)
    return generation === undefined ? null : (generation.toolMessageId ?? generation.writer.messageId)
  }

  /** Where the conversation's reply stands; null when none is generated or its generator has not reported yet. */
  replyState(conversationId: string): ReplyState | null {
    const generation = this.#generations.get(conversationId)
    return generation === undefined ? null : this.#stateOf(generation)
  }

  /** The user's answer to a call waiting for approval: run it once, always for its tool, or not. */
  answerToolCall(messageId: string, decision: ToolDecision): void {
    const generation = this.#toolGeneration(messageId)
    if (generation?.answer == null) throw new AppError('CONFLICT', 'This tool call is not waiting for an answer.')
    generation.answer(decision)
  }

  /** Ends a call: one waiting for approval is denied, a running one is cancelled. */
  cancelToolCall(messageId: string): void {
    const generation = this.#toolGeneration(messageId)
    if (generation?.answer != null) return generation.answer('deny')
    if (generation?.toolAbort == null) throw new AppError('CONFLICT', 'This tool call is not running.')
    generation.toolAbort.abort()
  }

  #toolGeneration(messageId: string): Generation | undefined {
    const { conversationId } = this.#deps.store.messages.get(messageId)
    const generation = this.#generations.get(conversationId)
    return generation?.toolMessageId === messageId ? generation : undefined
  }

  async send(conversationId: string, text: string, documentIds: readonly string[] = []): Promise<Turn> {
    const chosen = await this.#prepare(conversationId)
    const { messages } = this.#deps.store
    const parentId = messages.branch(conversationId).at(-1)?.message.id ?? null
    const userMessage = messages.addUser(conversationId, parentId, text, this.#deps.documents.attachments(documentIds))
    this.#emitMessage(userMessage)
    if (parentId === null && chosen.conversation.title === DEFAULT_TITLE) this.#retitle(conversationId, text)
    return { userMessage, reply: this.#start(chosen, userMessage.id) }
  }

  /** A new reply beside an assistant message, or a new reply to a user message. */
  async regenerate(messageId: string): Promise<Message> {
    const message = this.#deps.store.messages.get(messageId)
    const parentId = message.role === 'user' ? message.id : message.parentId
    if (message.role === 'system' || message.role === 'tool' || parentId === null) {
      throw new AppError('BAD_REQUEST', 'Only a reply to a message, or a message itself, can be answered again.')
    }
    return this.#start(await this.#prepare(message.conversationId), parentId)
  }

  /** The user message with new text (and the documents named, else its own), as a new branch beside the old one, and its reply. */
  async editMessage(messageId: string, text: string, documentIds?: readonly string[]): Promise<Turn> {
    const original = this.#deps.store.messages.get(messageId)
    if (original.role !== 'user') throw new AppError('BAD_REQUEST', 'Only your own messages can be edited.')
    const chosen = await this.#prepare(original.conversationId)
    const ids = documentIds ?? (original.documents ?? []).map((d) => d.id)
    const userMessage = this.#deps.store.messages.addUser(chosen.conversation.id, original.parentId, text, this.#deps.documents.attachments(ids))
    this.#emitMessage(userMessage)
    return { userMessage, reply: this.#start(chosen, userMessage.id) }
  }

  /** Whether a reply in the conversation can be carried on from its text. */
  canContinue(conversation: Conversation): boolean {
    return this.#generatorOf(conversation).continueRefusal === null
  }

  /** Carries on a reply from its stored text; it streams again under the same id. */
  async continueReply(messageId: string): Promise<Message> {
    const { messages } = this.#deps.store
    const target = messages.get(messageId)
    if (target.role !== 'assistant') throw new AppError('BAD_REQUEST', 'Only a reply can be continued.')
    if (messages.list(target.conversationId).some((m) => m.parentId === messageId)) {
      throw new AppError('CONFLICT', 'Only the last reply of a branch can be continued: later messages build on this one.')
    }
    const chosen = await this.#prepare(target.conversationId)
    // Checked before the row is reopened: a refusal leaves the reply as it was.
    const refusal = chosen.generator.continueRefusal
    if (refusal !== null) throw new AppError('MODEL_UNSUPPORTED', refusal)
    const { conversation } = chosen
    const path = messages.switchBranch(conversation.id, messageId).map((e) => e.message)
    const writer = messages.resume(messageId)
    const reply = messages.get(messageId)
    // An empty reply has nothing to carry on from: it is answered afresh.
    this.#launch(chosen, writer, reply, path.slice(0, -1), reply.content === '' ? null : reply.content, reply.stats)
    return reply
  }

  /** Cancels the conversation's generation and resolves once its reply is stored. */
  async stop(conversationId: string): Promise<void> {
    const generation = this.#generations.get(conversationId)
    if (generation === undefined) return
    generation.cancelled = true
    if (generation.started) generation.generator.cancel(conversationId)
    else generation.abandon()
    generation.answer?.('cancel')
    generation.toolAbort?.abort()
    await generation.finished
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#generations.keys()].map((id) => this.stop(id)))
  }

  /** The conversation, its model and that model's generator, checked before anything is written. */
  async #prepare(conversationId: string): Promise<Chosen> {
    this.#checkFree(conversationId)
    const conversation = this.#deps.store.conversations.get(conversationId)
    const generator = this.#generatorOf(conversation)
    const modelId = await generator.resolve(conversation)
    // Another call may have started a generation here while the model was being looked up.
    this.#checkFree(conversationId)
    return { conversation, modelId, generator }
  }

  #generatorOf(conversation: Conversation): Generator {
    return this.#deps.generatorFor(conversation.modelId ?? this.#deps.settings().defaultModelId)
  }

  #checkFree(conversationId: string): void {
    if (this.#generations.has(conversationId)) {
      throw new AppError('ENGINE_BUSY', 'A reply is still being written in this chat. Stop it or wait for it to finish.')
    }
  }

  #start(chosen: Chosen, parentId: string): Message {
    const { conversation } = chosen
    const { messages } = this.#deps.store
    const writer = messages.startAssistant(conversation.id, parentId, chosen.modelId)
    const path = messages.branch(conversation.id).map((e) => e.message)
    const reply = messages.get(writer.messageId)
    this.#launch(chosen, writer, reply, path.slice(0, -1), null, null)
    return reply
  }

  #launch(
    { conversation, modelId, generator }: Chosen,
    writer: StreamWriter,
    reply: Message,
    history: Message[],
    continueText: string | null,
    previous: GenerationStats | null,
  ): void {
    const generation: Generation = {
      conversationId: conversation.id,
      modelId,
      generator,
      writer,
      reply,
      request: {
        conversationId: conversation.id,
        // Built in #run, once the documents' context is settled with the model's own token counts.
        messages: [],
        // What the user set; the engine fills the rest from the model ([TAG_PARAM_PRECEDENCE]).
        params: mergeParams(this.#deps.settings().defaultParams, conversation.params),
        contextPolicy: conversation.contextPolicy,
        continueLast: continueText !== null,
        speculate: this.#deps.settings().speculativeDecoding,
      },
      previous,
      systemPrompt: conversation.systemPrompt,
      history,
      continueText,
      cancelled: false,
      started: false,
      failure: null,
      abandon: () => undefined,
      finished: Promise.resolve(),
      phase: generator.queues ? 'queued' : null,
      requestedAt: this.#now(),
      queueMs: null,
      promptIds: [],
      round: 0,
      route: new Map(),
      toolMessageId: null,
      answer: null,
      toolAbort: null,
    }
    this.#generations.set(conversation.id, generation)
    this.#emitMessage(reply)
    this.#emitConversation(conversation.id)
    this.#emitState(generation)
    generation.finished = this.#run(generation)
  }

  async #run(generation: Generation): Promise<void> {
    const endUse = this.#deps.models.beginUse()
    try {
      for (;;) {
        const { outcome, error, calls } = await this.#reply(generation)
        const reply = this.#finish(generation, outcome, error, calls)
        if (calls.length === 0 || reply.status !== 'complete' || generation.cancelled) break
        const lastResult = await this.#runTools(generation, reply, calls)
        if (generation.cancelled) break
        this.#nextReply(generation, lastResult)
      }
    } catch (err) {
      // A tool message the store refused (its chat deleted meanwhile): the generation ends here.
      this.#deps.events.emit('notice', { level: 'error', message: `The tool calls of this reply could not be kept: ${AppError.toData(err).message}` })
    } finally {
      endUse()
      this.#generations.delete(generation.conversationId)
      this.#emitConversation(generation.conversationId)
    }
  }

  /** One reply streamed from the generator: how it ended, and the calls it made. */
  async #reply(generation: Generation): Promise<{ outcome: StreamOutcome; error: ErrorData | null; calls: ToolCall[] }> {
    let outcome: StreamOutcome
    let error: ErrorData | null = null
    let calls: ToolCall[] = []
    try {
      // A generation stopped while it waits for the engine ends at once; its turn, when it
      // comes, finds it cancelled and gives the engine nothing.
      const abandoned = new Promise<null>((resolve) => (generation.abandon = () => resolve(null)))
      const work = this.#prompt(generation)
        .then(() =>
          generation.generator.generate(generation, {
            onToken: (text) => this.#onToken(generation, text),
            onPrefill: (report) => this.#deps.events.emit('prefillProgress', { conversationId: generation.conversationId, messageId: generation.reply.id, ...report }),
            onPhase: (phase) => this.#setPhase(generation, phase),
          }),
        )
        .finally(() => this.#releaseEngine(generation))
      const result = await Promise.race([work, abandoned])
      if (generation.failure !== null) throw generation.failure
      outcome = {
        status: result === null || result.stats.stopReason === 'cancelled' ? 'interrupted' : 'complete',
        stats: continuedStats(generation.previous, result === null ? null : this.#ownStats(generation, result.stats)),
      }
      calls = outcome.status === 'complete' ? (result?.toolCalls ?? []) : []
    } catch (err) {
      error = AppError.toData(err)
      if (error.code === 'CANCELLED') {
        outcome = { status: 'interrupted', stats: generation.previous }
        error = null
      } else {
        outcome = { status: 'error', stats: this.#overflowStats(generation, error) ?? generation.previous, error: error.message }
        if (error.code === 'ENGINE_CRASHED') this.#engineCrashed(error.message)
      }
    }
    return { outcome, error, calls }
  }

  /**
   * Each call of the reply as a tool message, asked of the user (unless always allowed), run and
   * answered in order; a stop answers the ones left as cancelled. Returns the last tool message's id.
   */
  async #runTools(generation: Generation, reply: Message, calls: readonly ToolCall[]): Promise<string> {
    const { messages } = this.#deps.store
    let parentId = reply.id
    for (const call of calls) {
      const route = generation.route.get(call.name) ?? null
      const checked = checkCall(call, route)
      const ask = typeof checked !== 'string' && !this.#deps.settings().alwaysAllowedTools.includes(checked.key)
      const tool: ToolUse = { callId: call.id, name: call.name, server: route?.server ?? null, arguments: call.arguments, state: ask ? 'approval' : 'running', durationMs: null }
      const message = messages.addTool(generation.conversationId, parentId, tool)
      parentId = message.id
      generation.toolMessageId = message.id
      this.#emitMessage(message)
      try {
        this.#emitMessage(await this.#runTool(generation, message.id, tool, checked))
      } finally {
        generation.toolMessageId = null
        generation.answer = null
        generation.toolAbort = null
      }
    }
    return parentId
  }

  async #runTool(generation: Generation, messageId: string, tool: ToolUse, checked: CheckedCall | string): Promise<Message> {
    const { messages } = this.#deps.store
    const done: ToolUse = { ...tool, state: 'done' }
    const fail = (error: string) => messages.finishTool(messageId, { status: 'error', content: '', error, tool: done })
    const cancelled = () => messages.finishTool(messageId, { status: 'interrupted', content: '', error: null, tool: done })
    if (generation.cancelled) return cancelled()
    if (typeof checked === 'string' || this.#deps.tools === undefined) return fail(typeof checked === 'string' ? checked : 'This chat has no tools.')
    const { route, args, key } = checked
    if (tool.state === 'approval') {
      const decision = await new Promise<ToolDecision | 'cancel'>((resolve) => (generation.answer = resolve))
      generation.answer = null
      if (decision === 'cancel') return cancelled()
      if (decision === 'deny') return fail('You denied this call.')
      if (decision === 'always') this.#allowAlways(key)
      if (generation.cancelled) return cancelled()
      this.#emitMessage(messages.updateTool(messageId, { ...tool, state: 'running' }))
    }
    const abort = new AbortController()
    generation.toolAbort = abort
    const started = performance.now()
    const timed = (): ToolUse => ({ ...done, durationMs: Math.round(performance.now() - started) })
    try {
      const result = await this.#deps.tools.call(route.server, route.tool, args, {
        timeoutMs: this.#deps.settings().toolTimeoutSeconds * 1000,
        signal: abort.signal,
      })
      const { text, truncatedFrom } = await this.#fitResult(generation, result.text)
      const used: ToolUse = truncatedFrom === null ? timed() : { ...timed(), truncatedFrom }
      return result.isError
        ? messages.finishTool(messageId, { status: 'error', content: text, error: text, tool: used })
        : messages.finishTool(messageId, { status: 'complete', content: text, error: null, tool: used })
    } catch (err) {
      const data = AppError.toData(err)
      if (data.code === 'CANCELLED') return messages.finishTool(messageId, { status: 'interrupted', content: '', error: null, tool: timed() })
      return messages.finishTool(messageId, { status: 'error', content: '', error: data.message, tool: timed() })
    }
  }

  /** The result cut to a quarter of the model's context, saying so, so the answer still has room. */
  async #fitResult(generation: Generation, text: string): Promise<{ text: string; truncatedFrom: number | null }> {
    if (text.length <= MEASURE_RESULT_CHARS) return { text, truncatedFrom: null }
    const measured = await generation.generator.measure(generation.modelId, [text])
    const tokens = measured.counts[0] ?? 0
    const limit = Math.floor(measured.contextLength / 4)
    if (tokens <= limit) return { text, truncatedFrom: null }
    const keep = Math.floor((text.length * limit) / tokens * 0.95)
    const kept = text.slice(0, keep)
    return { text: `${kept}\n\n[The result was cut to fit the model's context: ${kept.length.toLocaleString('en')} of ${text.length.toLocaleString('en')} characters are shown.]`, truncatedFrom: text.length }
  }

  #allowAlways(key: string): void {
    const allowed = this.#deps.settings().alwaysAllowedTools
    if (!allowed.includes(key)) this.#deps.store.settings.update({ alwaysAllowedTools: [...allowed, key] })
  }

  /** The reply that reads the tools' results, under the last one, in the same generation. */
  #nextReply(generation: Generation, parentId: string): void {
    const { messages } = this.#deps.store
    const writer = messages.startAssistant(generation.conversationId, parentId, generation.modelId)
    const path = messages.branch(generation.conversationId).map((e) => e.message)
    generation.writer = writer
    generation.reply = messages.get(writer.messageId)
    generation.history = path.slice(0, -1)
    generation.continueText = null
    generation.previous = null
    generation.started = false
    generation.failure = null
    generation.phase = generation.generator.queues ? 'queued' : null
    generation.requestedAt = this.#now()
    generation.queueMs = null
    generation.request.continueLast = false
    generation.round++
    this.#emitMessage(generation.reply)
    this.#emitState(generation)
  }

  /** The request's messages: the branch with its documents, settled for the turn being answered. */
  async #prompt(generation: Generation): Promise<void> {
    const { documents } = this.#deps
    const { generator, modelId, systemPrompt, request } = generation
    const path = await documents.settle(systemPrompt, generation.history, request.params.maxTokens, (texts) => generator.measure(modelId, texts))
    const messages = documents.prompt(systemPrompt, path)
    generation.promptIds = promptMessageIds(systemPrompt, path)
    if (generation.continueText !== null) {
      messages.push({ role: 'assistant', content: generation.continueText })
      generation.promptIds.push(null)
    }
    request.messages = messages
    await this.#offerTools(generation)
  }

  /** The tools of the chat's servers that are ready; a server that is not is named once per turn. */
  async #offerTools(generation: Generation): Promise<void> {
    const { request } = generation
    delete request.tools
    delete request.toolChoice
    generation.route = new Map()
    const names = this.#deps.store.conversations.get(generation.conversationId).toolServers
    if (names.length === 0 || this.#deps.tools === undefined) return
    const offered = await this.#deps.tools.offered(names)
    generation.route = offered.route
    if (generation.round === 0 && offered.missing.length > 0) {
      const list = offered.missing.map((m) => `"${m.server}" (${m.reason})`).join(', ')
      this.#deps.events.emit('notice', { level: 'warning', message: `The tools of ${list} are not available in this reply.` })
    }
    if (offered.definitions.length === 0) return
    request.tools = offered.definitions
    // The last reply of a long run of calls must answer in words.
    request.toolChoice = generation.round >= MAX_TOOL_ROUNDS ? 'none' : 'auto'
  }

  /**
   * A generator's report. The first of a local reply's phases past 'queued' means the engine is
   * its: every reply queued behind it is told whose it waits for.
   */
  #setPhase(generation: Generation, phase: ReplyPhase): void {
    if (generation.phase === phase) return
    // Only a reply that waited for the engine takes it: a remote one is sent at once.
    const takesEngine = generation.phase === 'queued' && phase !== 'generating'
    generation.phase = phase
    if (phase === 'prefilling') generation.queueMs ??= this.#now() - generation.requestedAt
    if (takesEngine) {
      this.#engineHolder = generation
      this.#emitQueued()
    }
    this.#emitState(generation)
  }

  /** The engine is free of this generation's reply: whatever was queued behind it waits for what comes next. */
  #releaseEngine(generation: Generation): void {
    if (this.#engineHolder !== generation) return
    this.#engineHolder = null
    this.#emitQueued()
  }

  #emitQueued(): void {
    for (const queued of this.#generations.values()) if (queued.phase === 'queued') this.#emitState(queued)
  }

  #emitState(generation: Generation): void {
    const state = this.#stateOf(generation)
    if (state !== null) this.#deps.events.emit('replyState', state)
  }

  #stateOf(generation: Generation): ReplyState | null {
    const { conversationId, phase } = generation
    if (phase === null) return null
    const state: ReplyState = { conversationId, messageId: generation.writer.messageId, state: phase }
    const holder = this.#engineHolder
    if (phase !== 'queued' || holder === null || holder === generation) return state
    const title = this.#titleOf(holder.conversationId)
    return title === null ? state : { ...state, waitingFor: title }
  }

  /** The engine's stats of the reply, with the wait before it and its dropped turns by message id. */
  #ownStats(generation: Generation, stats: GenerationStats): GenerationStats {
    const dropped = (stats.droppedMessages ?? []).flatMap((i) => generation.promptIds[i] ?? [])
    return {
      ...stats,
      ...(generation.queueMs === null ? {} : { queueMs: generation.queueMs }),
      ...(dropped.length > 0 ? { droppedMessageIds: dropped } : {}),
    }
  }

  /**
   * A prompt that did not fit the context keeps its size as the reply's stats, so the context
   * meter shows it rather than the last reply that fit; nothing else was measured.
   */
  #overflowStats(generation: Generation, error: ErrorData): GenerationStats | null {
    if (error.code !== 'CONTEXT_OVERFLOW' || error.overflow === undefined) return null
    return {
      promptTokens: error.overflow.promptTokens,
      reusedTokens: 0,
      prefillMs: 0,
      prefillTokensPerSecond: 0,
      ttftMs: 0,
      ...(generation.queueMs === null ? {} : { queueMs: generation.queueMs }),
      decodeTokensPerSecond: 0,
      generatedTokens: 0,
      stopReason: 'error',
      provider: this.#deps.models.status().info?.provider ?? 'cpu',
    }
  }

  #now(): number {
    return (this.#deps.now ?? performance.now.bind(performance))()
  }

  #onToken(generation: Generation, text: string): void {
    if (generation.failure !== null) return
    try {
      generation.writer.append(text)
    } catch (err) {
      // The row is gone or the disk refused it: stop spending the engine on a reply nobody keeps.
      generation.failure = err
      generation.generator.cancel(generation.conversationId)
      return
    }
    this.#deps.events.emit('token', { conversationId: generation.conversationId, messageId: generation.writer.messageId, text })
    this.#setPhase(generation, 'generating')
  }

  #finish(generation: Generation, outcome: StreamOutcome, error: ErrorData | null, calls: readonly ToolCall[]): Message {
    const { conversationId } = generation
    const messageId = generation.writer.messageId
    let message: Message
    try {
      message = generation.writer.finish(outcome)
      if (calls.length > 0 && message.status === 'complete') message = this.#deps.store.messages.setToolCalls(messageId, calls)
    } catch (err) {
      // Deleted while streaming, or the database refused the write: report what was generated.
      error ??= AppError.toData(err)
      message = { ...generation.reply, content: generation.writer.text, status: 'error', stats: outcome.stats ?? null, error: error.message }
    }
    if (error !== null) this.#deps.events.emit('generationError', { conversationId, messageId, error })
    const dropped = message.stats?.droppedMessages?.length ?? 0
    if (dropped > 0) {
      this.#deps.events.emit('notice', {
        level: 'warning',
        message: `${dropped === 1 ? 'An earlier message' : `${dropped} earlier messages`} did not fit the model's context and ${dropped === 1 ? 'was' : 'were'} left out of this reply.`,
      })
    }
    this.#deps.events.emit('done', { conversationId, messageId, stats: message.stats, message })
    return message
  }

  #engineCrashed(message: string): void {
    this.#deps.models.engineCrashed(message)
    this.#deps.events.emit('notice', {
      level: 'error',
      message: `${message} The reply keeps the text it had; the next message restarts the engine.`,
    })
  }

  #titleOf(conversationId: string): string | null {
    try {
      return this.#deps.store.conversations.get(conversationId).title
    } catch (err) {
      if (err instanceof AppError && err.code === 'NOT_FOUND') return null
      throw err
    }
  }

  #retitle(conversationId: string, text: string): void {
    const title = titleFrom(text)
    if (title !== '') this.#deps.store.conversations.update(conversationId, { title })
  }

  #emitMessage(message: Message): void {
    this.#deps.events.emit('messageChanged', { conversationId: message.conversationId, message })
  }

  #emitConversation(conversationId: string): void {
    let conversation: Conversation | null
    try {
      conversation = this.#deps.store.conversations.get(conversationId)
    } catch (err) {
      // Deleted while its reply streamed: the list drops it.
      if (!(err instanceof AppError && err.code === 'NOT_FOUND')) throw err
      conversation = null
    }
    this.#deps.events.emit('conversationChanged', { conversationId, conversation })
  }
}

interface CheckedCall {
  route: { server: string; tool: string }
  args: Record<string, unknown>
  /** How Settings' alwaysAllowedTools names the tool. */
  key: string
}

/** A call that can run, or why it cannot: a tool nobody offered, arguments that are no JSON object. */
function checkCall(call: ToolCall, route: { server: string; tool: string } | null): CheckedCall | string {
  if (route === null) return `There is no tool named "${call.name}" in this chat.`
  let args: unknown
  try {
    args = JSON.parse(call.arguments)
  } catch {
    args = undefined
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return `The arguments are not a JSON object: ${call.arguments}`
  return { route, args: args as Record<string, unknown>, key: `${route.server}/${route.tool}` }
}
