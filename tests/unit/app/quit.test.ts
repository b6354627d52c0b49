// Quitting with an engine that no longer answers: close() still ends, and the reply being
// written is stored with its text.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import type { LoadedModelInfo } from '../../../src-shared/types.ts'
import { createApp } from '../../../src-main/app/app.ts'
import type { EnginePort, EngineResult } from '../../../src-main/app/engine-port.ts'
import type { Warmed } from '../../../src-main/model-format/protocol.ts'
import { openStore } from '../../../src-main/store/store.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'

/** Streams a token, then hangs in native code: cancel is never read; only killing it (close) ends the reply. */
class StuckEngine implements EnginePort {
  cancels = 0
  #fail: ((err: AppError) => void) | null = null
  #streaming: (() => void)[] = []

  async load(dir: string): Promise<LoadedModelInfo> {
    return { modelId: path.basename(dir), variant: 'fp32', provider: 'cpu', providerAttempts: [{ provider: 'cpu', ok: true }], contextLength: 2048, kvDtype: 'float32', multiTokenPass: true, threads: 1, kvUpdate: 'split', kvUpdateNotes: [], fusions: [], int8Activations: false, speculation: { available: true, draftModelId: null } }
  }

  generate(_request: unknown, onToken: (text: string) => void): Promise<EngineResult> {
    return new Promise((_resolve, reject) => {
      this.#fail = reject
      onToken('Half a thought')
      for (const wake of this.#streaming.splice(0)) wake()
    })
  }

  async countTokens(texts: string[]): Promise<number[]> {
    return texts.map((t) => t.length)
  }

  /** Resolves once a reply has streamed its token. */
  streaming(): Promise<void> {
    return this.#fail ? Promise.resolve() : new Promise((resolve) => this.#streaming.push(resolve))
  }

  cancel(): void {
    this.cancels++
  }

  onCrash(): () => void {
    return () => undefined
  }

  async warmCache(): Promise<Warmed> {
    return { from: 'none', reason: 'no-model' }
  }
  async dropCache(): Promise<void> {}
  async unload(): Promise<void> {}

  /** As the engine host does: the process is killed and the reply it owed fails. */
  async close(): Promise<void> {
    this.#fail?.(new AppError('ENGINE_CRASHED', 'Hearth closed while the engine was still working, so the engine was stopped.'))
  }
}

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-quit-'))
  await buildModel(path.join(root, 'models', 'tiny'), { layers: 1 })
})
after(() => rm(root, { recursive: true, force: true }))

describe('App#close', () => {
  // The timeout only turns a hang (the bug) into a failure; nothing here is timed.
  it('ends a stuck engine after the grace period and stores its reply as an error with the text', { timeout: 60_000 }, async () => {
    const dataDir = path.join(root, 'data')
    const engine = new StuckEngine()
    const app = await createApp({ shell: 'browser', version: '0.0.0', dataDir, modelsDir: path.join(root, 'models'), engine, stopGraceMs: 0 })
    const { id } = await app.api.createConversation()
    const { reply } = await app.api.send(id, 'Think hard')
    await engine.streaming()
    await app.close()
    assert.ok(engine.cancels > 0, 'quitting did not ask the engine to stop first')

    const store = openStore({ dataDir })
    try {
      const stored = store.messages.get(reply.id)
      assert.equal(stored.status, 'error')
      assert.equal(stored.content, 'Half a thought')
      assert.match(stored.error ?? '', /Hearth closed/)
    } finally {
      store.close()
    }
  })
})
