// Shared by the app tests: an engine whose replies and load results the test writes.

import assert from 'node:assert/strict'
import path from 'node:path'
import { AppError } from '../../../src-shared/errors.ts'
import type { GenerationStats, LoadedModelInfo, ToolCall } from '../../../src-shared/types.ts'
import type { EnginePort, EngineRequest, EngineResult, LoadOptions, PrefillReport } from '../../../src-main/app/engine-port.ts'
import type { Warmed } from '../../../src-main/model-format/protocol.ts'

/** An engine whose replies the test writes: each generate waits for the test to end it. */
export class ScriptedEngine implements EnginePort {
  loads: { dir: string; options: LoadOptions }[] = []
  requests: EngineRequest[] = []
  cancels = 0
  /** The context the loaded model states. */
  contextLength = 2048
  /** Texts counted for the app (documents being sized). */
  counted: string[] = []
  #running: {
    onToken: (t: string) => void
    onPrefill: ((r: PrefillReport) => void) | undefined
    end: (r: EngineResult | Error) => void
    text: string
  } | null = null
  #started: (() => void)[] = []
  #crashListeners = new Set<(error: AppError) => void>()

  async load(dir: string, options: LoadOptions): Promise<LoadedModelInfo> {
    this.loads.push({ dir, options })
    // As the engine does: a draft model it was given is in use (compatibility is the engine's to check).
    const draftModelId = options.draftModelDir === undefined ? null : path.basename(options.draftModelDir)
    return {
      modelId: path.basename(dir),
      variant: options.variant ?? 'fp32',
      provider: 'cpu',
      providerAttempts: [{ provider: 'cpu', ok: true }],
      contextLength: options.contextLength ?? this.contextLength,
      kvDtype: options.kvDtype ?? 'float32',
      multiTokenPass: true,
      threads: options.threads ?? 1,
      kvUpdate: 'split',
      kvUpdateNotes: [],
      fusions: [],
      int8Activations: false,
      speculation: { available: true, draftModelId },
    }
  }

  generate(request: EngineRequest, onToken: (text: string) => void, onPrefill?: (r: PrefillReport) => void): Promise<EngineResult> {
    this.requests.push(request)
    return new Promise((resolve, reject) => {
      this.#running = { onToken, onPrefill, text: '', end: (r) => (r instanceof Error ? reject(r) : resolve(r)) }
      for (const wake of this.#started.splice(0)) wake()
    })
  }

  /** Resolves once a generate call is running. */
  started(): Promise<void> {
    return this.#running ? Promise.resolve() : new Promise((resolve) => this.#started.push(resolve))
  }

  /** This engine's tokenizer: four characters a token. */
  async countTokens(texts: string[]): Promise<number[]> {
    this.counted.push(...texts)
    return texts.map((t) => Math.ceil(t.length / 4))
  }

  /** Reports the running generation's prefill as the engine does for a long prompt. */
  prefill(report: PrefillReport): void {
    assert.ok(this.#running, 'no generation is running')
    this.#running.onPrefill?.(report)
  }

  token(text: string): void {
    assert.ok(this.#running, 'no generation is running')
    this.#running.text += text
    this.#running.onToken(text)
  }

  finish(stopReason: GenerationStats['stopReason'] = 'eos', droppedMessages?: number[]): void {
    const running = this.#running
    assert.ok(running, 'no generation is running')
    this.#running = null
    running.end({ text: running.text, stats: { ...stats(stopReason, running.text.length), ...(droppedMessages ? { droppedMessages } : {}) } })
  }

  /** Ends the reply as one that calls tools: its text so far is what came before the calls. */
  finishWithCalls(toolCalls: ToolCall[]): void {
    const running = this.#running
    assert.ok(running, 'no generation is running')
    this.#running = null
    running.end({ text: running.text, stats: stats('eos', running.text.length), toolCalls })
  }

  fail(error: Error): void {
    const running = this.#running
    assert.ok(running, 'no generation is running')
    this.#running = null
    running.end(error)
  }

  cancel(): void {
    this.cancels++
    if (this.#running) this.finish('cancelled')
  }

  onCrash(listener: (error: AppError) => void): () => void {
    this.#crashListeners.add(listener)
    return () => this.#crashListeners.delete(listener)
  }

  /** The engine process dies: listeners hear it, a running generation fails. */
  crash(): void {
    const error = new AppError('ENGINE_CRASHED', 'The engine process stopped unexpectedly (signal SIGKILL).')
    for (const listener of this.#crashListeners) listener(error)
    if (this.#running) this.fail(error)
  }

  /** Conversations whose caches the app asked to read ahead. */
  warmed: string[] = []
  async warmCache(conversationId: string): Promise<Warmed> {
    this.warmed.push(conversationId)
    return { from: 'none', reason: 'no-snapshot' }
  }

  async dropCache(): Promise<void> {}

  async unload(): Promise<void> {}
  async close(): Promise<void> {}
}

export function stats(stopReason: GenerationStats['stopReason'], generatedTokens: number): GenerationStats {
  return { promptTokens: 10, reusedTokens: 0, prefillMs: 1, prefillTokensPerSecond: 1, ttftMs: 1, decodeTokensPerSecond: 1, generatedTokens, stopReason, provider: 'cpu' }
}
