// The engine: one loaded model, its KV cache pool, and generation (prefill, then decode).

import os from 'node:os'
import { AppError } from '../../src-shared/errors.ts'
import { resolveParams } from '../../src-shared/params.ts'
import type { GenerationStats, LoadedModelInfo, PromptMessage, StopReason, ToolCall, ToolDefinition } from '../../src-shared/types.ts'
import { vocabularyFingerprint } from '../model-format/draft-pairs.ts'
import { kvBytesPerToken } from '../model-format/memory-estimate.ts'
import type { EngineInfo, GenerateRequest, GenerateResult, LoadOptions, PrefillReport, Warmed } from '../model-format/protocol.ts'
import { fitContext } from './context-fit.ts'
import { decodeTokens } from './decode.ts'
import { Grammars } from './grammar/constraint.ts'
import type { KvCache } from './kv-cache.ts'
import { KvPool } from './kv-pool.ts'
import { loadModel, type LoadedModel } from './load-model.ts'
import { createRng } from './sampler.ts'
import { SnapshotStore } from './snapshots.ts'
import { DraftModel } from './speculation/draft-model.ts'
import { Speculator } from './speculation/speculator.ts'
import { StopMatcher } from './stops.ts'
import { TextStream } from './text-stream.ts'
import { forcedCall, parseToolCalls, ToolTextFilter, type ToolFormat } from './tools.ts'
import type { ChatTokenizer } from './tokenizer.ts'

const DEFAULT_SNAPSHOT_BUDGET = 2 * 2 ** 30
/** The least time between two prefill reports: a few a second are enough for a progress bar. */
const PREFILL_REPORT_MS = 250

/**
 * The prompt's tokens: the chat plus the assistant header, or, to carry on the last assistant
 * message, the chat rendered up to the end of that message's text (as Hugging Face's
 * continue_final_message does: the template's closing tokens after it are cut off).
 */
function promptTokens(tokenizer: ChatTokenizer, messages: readonly PromptMessage[], continueLast: boolean, tools?: readonly ToolDefinition[]): number[] {
  const last = messages[messages.length - 1]
  const withTools = tools?.length ? { tools } : {}
  if (!continueLast) return tokenizer.encodeChat(messages, { addGenerationPrompt: true, ...withTools })
  if (last?.role !== 'assistant') {
    throw new AppError('BAD_REQUEST', 'Only an assistant message can be continued')
  }
  if (last.content.trim() === '') return tokenizer.encodeChat(messages.slice(0, -1), { addGenerationPrompt: true, ...withTools })
  const text = tokenizer.renderChat(messages, { addGenerationPrompt: false, ...withTools })
  const end = text.lastIndexOf(last.content)
  if (end < 0) throw new AppError('MODEL_UNSUPPORTED', "The model's chat template changes message text, so a reply cannot be continued")
  return tokenizer.encode(text.slice(0, end + last.content.length))
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** How a request's tools are offered: null without tools or with tool_choice 'none'; `forced` for a call the reply must be. */
function toolCalling(
  req: GenerateRequest,
  format: ToolFormat | null,
): { tools: ToolDefinition[]; format: ToolFormat; forced: { prefix: string; schema: Record<string, unknown> } | null } | null {
  const tools = req.tools ?? []
  const choice = req.toolChoice ?? 'auto'
  if (tools.length === 0 || choice === 'none') return null
  if (format === null) throw new AppError('MODEL_UNSUPPORTED', "This model's chat template does not render tools, so it cannot be offered any to call.")
  if (req.responseFormat !== undefined && req.responseFormat.type !== 'text') throw new AppError('BAD_REQUEST', 'A reply cannot be kept to a response_format and offered tools at once.')
  const forced = choice === 'auto' ? null : forcedCall(tools, choice, format)
  return { tools, format, forced }
}

/**
 * Loads the draft model for `target` with the same providers and threads, and checks that it can
 * draft for it: the same vocabulary (token ids mean the same text) and logits over as many ids.
 */
async function loadDraftModel(target: LoadedModel, targetDir: string, draftDir: string, opts: LoadOptions): Promise<DraftModel> {
  if (!target.info.speculation.available) throw new AppError('BAD_REQUEST', `No draft model is used: ${target.info.speculation.reason}`)
  const [targetPrint, draftPrint] = await Promise.all([vocabularyFingerprint(targetDir), vocabularyFingerprint(draftDir)])
  if (targetPrint !== draftPrint) {
    throw new AppError('MODEL_UNSUPPORTED', `${draftDir} cannot draft for this model: their vocabularies differ`)
  }
  const model = await loadModel(draftDir, { providers: [target.info.provider], threads: opts.threads, spinning: opts.spinning, memoryLimitBytes: opts.memoryLimitBytes })
  if (model.session.vocab !== target.session.vocab) {
    await model.session.release()
    throw new AppError('MODEL_UNSUPPORTED', `${draftDir} cannot draft for this model: it scores ${model.session.vocab} token ids, the model ${target.session.vocab}`)
  }
  if (!model.info.speculation.available) {
    await model.session.release()
    throw new AppError('MODEL_UNSUPPORTED', `${draftDir} cannot draft: ${model.info.speculation.reason}`)
  }
  return new DraftModel(model)
}

export class Engine {
  private model: LoadedModel | null = null
  private pool: KvPool | null = null
  private draftModel: DraftModel | null = null
  /** The loaded model's grammars for constrained decoding, set up on the first request that asks for one. */
  private grammars: Grammars | null = null

  /**
   * Loads a model, replacing the current one (whose caches are persisted first), and the draft
   * model named in `opts` beside it. A draft model that cannot be used leaves the target loaded,
   * with the reason in its info.
   */
  async load(modelDir: string, opts: LoadOptions = {}): Promise<LoadedModelInfo> {
    await this.unload()
    const model = await loadModel(modelDir, opts)
    if (opts.draftModelDir) {
      try {
        this.draftModel = await loadDraftModel(model, modelDir, opts.draftModelDir, opts)
        model.info.speculation.draftModelId = this.draftModel.model.info.modelId
      } catch (err) {
        model.info.speculation.draftModelError = err instanceof Error ? err.message : String(err)
      }
    }
    const bytesPerToken = kvBytesPerToken(model.config, model.session.sig.kvDtype)
    const snapshots = opts.snapshotDir
      ? new SnapshotStore(opts.snapshotDir, model.identity, opts.snapshotBudgetBytes ?? DEFAULT_SNAPSHOT_BUDGET)
      : null
    this.pool = new KvPool({
      budgetBytes: opts.kvBudgetBytes ?? Math.floor(os.freemem() / 4),
      bytesPerToken,
      newCache: () => model.session.emptyCache(),
      positionsFor: (n) => model.session.capacityFor(n),
      snapshots,
    })
    this.model = model
    this.grammars = new Grammars(model.tokenizer, model.session.vocab)
    return model.info
  }

  info(): EngineInfo {
    return {
      model: this.model?.info ?? null,
      caches: this.pool?.info() ?? [],
      kvBytes: this.pool?.bytes ?? 0,
      kvBudgetBytes: this.pool?.budgetBytes ?? 0,
    }
  }

  /** Each text's tokens with the loaded model's tokenizer: what the app sizes documents by. */
  countTokens(texts: readonly string[]): number[] {
    const { model } = this
    if (!model) throw new AppError('MODEL_NOT_LOADED', 'No model is loaded')
    return texts.map((text) => model.tokenizer.encode(text).length)
  }

  /** Reads a conversation's cache from its snapshot now, so its next request starts from memory. */
  async warmCache(conversationId: string): Promise<Warmed> {
    return (await this.pool?.warm(conversationId)) ?? { from: 'none', reason: 'no-model' }
  }

  async dropCache(conversationId: string): Promise<void> {
    this.draftModel?.drop(conversationId)
    await this.pool?.drop(conversationId)
  }

  /** Persists caches to snapshots (when enabled) and frees the model and its draft model. */
  async unload(): Promise<void> {
    const { model, pool, draftModel } = this
    this.model = null
    this.pool = null
    this.draftModel = null
    this.grammars?.dispose()
    this.grammars = null
    await pool?.persistAll()
    await model?.session.release()
    await draftModel?.release()
  }

  /**
   * Renders and tokenizes the conversation, reuses the cached prefix, prefills the rest, then
   * decodes until eos, a stop string, the token limit, the context end, or `cancelled()`.
   * `cancelled` is read before every decode step, so a cancel lands within one step. A prefill of
   * more than one chunk is reported through `onPrefill` as it goes.
   */
  async generate(
    req: GenerateRequest,
    onText: (text: string) => void,
    cancelled: () => boolean,
    onPrefill: (report: PrefillReport) => void = () => undefined,
  ): Promise<GenerateResult> {
    const { model, pool } = this
    if (!model || !pool) throw new AppError('MODEL_NOT_LOADED', 'No model is loaded')
    const started = performance.now()
    const { session, tokenizer, config } = model
    const params = resolveParams(req.params, config.generationDefaults)
    const context = config.contextLength
    // Room kept for the reply when fitting the prompt: the asked length, at most a quarter of the context.
    const reserve = Math.max(1, Math.min(params.maxTokens, Math.floor(context / 4)))
    const calling = toolCalling(req, tokenizer.toolFormat)
    // A forced call starts the reply in the prompt (Hermes' `<tool_call>`): the model writes the JSON.
    const messages = calling?.forced?.prefix ? [...req.messages, { role: 'assistant' as const, content: calling.forced.prefix }] : req.messages
    const continueLast = req.continueLast === true || Boolean(calling?.forced?.prefix)
    const fit = fitContext(
      messages,
      (ms) => promptTokens(tokenizer, ms, continueLast, calling?.tools),
      context,
      reserve,
      req.contextPolicy ?? 'stop',
    )
    const prompt = fit.tokens
    const limit = Math.min(params.maxTokens, context - prompt.length)
    // Set up before the cache is taken: a schema that cannot be compiled fails the request at once.
    // A forced call is kept to its tool's schema; under 'auto', Hermes-format calls are kept to
    // theirs once the model opens one; otherwise the response_format, if any.
    const format = calling?.forced ? { type: 'json_schema' as const, schema: calling.forced.schema } : req.responseFormat
    const constraint =
      calling && !calling.forced && calling.format === 'hermes'
        ? ((await this.grammars?.toolCalls(calling.tools)) ?? null)
        : ((await this.grammars?.constraint(format)) ?? null)
    let acquired
    try {
      acquired = await pool.acquire(req.conversationId, prompt, limit)
    } catch (err) {
      constraint?.dispose()
      throw err
    }
    const { entry, nPast } = acquired
    const cache = entry.cache
    // No room is reserved for the whole prompt ahead: a pass attends over every position it is
    // fed, masked or not, so the cache grows with the prefill (a copy per chunk, ~1% of it).

    const stream = new TextStream(tokenizer)
    const stops = new StopMatcher(params.stop)
    const seed = params.seed ?? Math.floor(Math.random() * 2 ** 32)
    const rng = createRng(seed)
    const generated: number[] = []
    let text = ''
    // The decode loop ends by itself only when cancelled; every other end is set where it happens.
    let stopReason: StopReason = limit > 0 ? 'cancelled' : 'length'
    let ttftMs = 0
    let decodeStarted = 0
    let speculator: Speculator | null = null
    // With tools, what may be a call is held back from the stream until the reply shows what it is.
    const filter = calling && !calling.forced ? new ToolTextFilter(calling.format, onText) : null
    const out = calling?.forced ? () => undefined : filter ? (t: string) => filter.push(t) : onText
    const emit = (piece: string): boolean => {
      const r = stops.push(piece)
      if (r.text) {
        text += r.text
        out(r.text)
      }
      return r.stopped
    }

    try {
      const prefillStarted = performance.now()
      const logits = await this.prefill(cache, prompt.slice(nPast), cancelled, onPrefill)
      const prefillMs = performance.now() - prefillStarted

      if (logits && constraint === null && req.speculate !== false && model.info.speculation.available) {
        this.draftModel?.reseed(seed)
        speculator = new Speculator({
          session,
          params,
          rng,
          prompt,
          prediction: req.prediction ? tokenizer.encode(req.prediction) : undefined,
          draftModel: this.draftModel,
          cacheKey: entry.key,
        })
      }
      const tokens = logits && limit > 0 ? decodeTokens({ session, cache, logits, params, rng, limit, cancelled, speculator, constraint }) : null
      for await (const token of tokens ?? []) {
        if (generated.length === 0) {
          ttftMs = performance.now() - started
          decodeStarted = performance.now()
        }
        if (tokenizer.eosIds.has(token)) {
          stopReason = 'eos'
          break
        }
        generated.push(token)
        if (emit(stream.push(token))) {
          stopReason = 'stop-string'
          break
        }
        if (generated.length >= limit) {
          stopReason = 'length'
          break
        }
      }
      if (stopReason !== 'stop-string' && !emit(stream.flush())) {
        const rest = stops.flush()
        text += rest
        if (rest) out(rest)
      }
      let toolCalls: ToolCall[] | undefined
      if (calling) {
        const parsed = calling.forced
          ? parseToolCalls(`${calling.forced.prefix}${text}${calling.format === 'hermes' ? '\n</tool_call>' : ''}`, calling.format, calling.tools)
          : parseToolCalls(text, calling.format, calling.tools)
        filter?.end(parsed.content)
        if (parsed.calls.length > 0) {
          toolCalls = parsed.calls
          text = parsed.content
        }
      }

      const decodeMs = decodeStarted ? performance.now() - decodeStarted : 0
      const prefilled = prompt.length - nPast
      const stats: GenerationStats = {
        promptTokens: prompt.length,
        reusedTokens: nPast,
        prefillMs,
        prefillTokensPerSecond: prefillMs > 0 ? (prefilled / prefillMs) * 1000 : 0,
        ttftMs,
        decodeTokensPerSecond: generated.length > 1 && decodeMs > 0 ? ((generated.length - 1) / decodeMs) * 1000 : 0,
        generatedTokens: generated.length,
        stopReason,
        provider: model.info.provider,
        ...(fit.droppedMessages.length > 0 ? { droppedMessages: fit.droppedMessages } : {}),
        ...(speculator?.stats() ? { speculation: speculator.stats()! } : {}),
      }
      return { text, tokens: generated, stats, ...(toolCalls ? { toolCalls } : {}) }
    } finally {
      constraint?.dispose()
      pool.release(entry)
    }
  }

  /**
   * Runs the new prompt tokens in chunks; returns the logits of the last one ([vocab]), or null
   * when cancelled between chunks (the chunks done stay in the cache, consistent, so the next
   * request with this prompt starts where this one stopped). More than one chunk of work is
   * reported through `report` at its start and then at most every PREFILL_REPORT_MS.
   */
  private async prefill(
    cache: KvCache,
    tokens: number[],
    cancelled: () => boolean,
    report: (r: PrefillReport) => void,
  ): Promise<Float32Array | null> {
    const { session, prefillChunk, info } = this.model as LoadedModel
    const reported = tokens.length > prefillChunk
    const total = cache.nPast + tokens.length
    const started = performance.now()
    let lastReport = -Infinity
    let logits: Float32Array | null = null
    for (let i = 0; i < tokens.length; ) {
      await yieldToEventLoop()
      if (cancelled()) return null
      const now = performance.now()
      if (reported && now - lastReport >= PREFILL_REPORT_MS) {
        lastReport = now
        report({ done: cache.nPast, total, tokensPerSecond: i > 0 ? (i / (now - started)) * 1000 : 0 })
      }
      // Graphs that cannot take several tokens on top of a non-empty cache get them one at a time.
      const chunk = info.multiTokenPass || cache.nPast === 0 ? prefillChunk : 1
      const end = Math.min(tokens.length, i + chunk)
      logits = await session.forward(cache, tokens.slice(i, end), { logits: 'last' })
      i = end
    }
    // [TAG_LAST_TOKEN_EVAL] guarantees at least one new token.
    if (!logits) throw new AppError('INTERNAL', 'prefill got no tokens')
    return logits
  }
}
