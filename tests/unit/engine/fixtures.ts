// Shared by the engine tests: temp model folders and greedy parameters.

import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { buildModel, type BuildOptions } from '../../../tools/model-builder/build-model.ts'
import { DEFAULT_PARAMS, type ChatMessage, type GenerationParams } from '../../../src-shared/types.ts'

export const GREEDY: GenerationParams = { ...DEFAULT_PARAMS, temperature: 0, repetitionPenalty: 1, maxTokens: 12 }

export const CHAT: ChatMessage[] = [
  { role: 'system', content: 'You are brief.' },
  { role: 'user', content: 'Write a haiku about the sea.' },
]

/** A temp directory with a model builder; remove() deletes everything it built. */
export async function tempModels(prefix: string): Promise<{
  root: string
  build: (name: string, opts?: Partial<BuildOptions>) => Promise<string>
  remove: () => Promise<void>
}> {
  const root = await mkdtemp(path.join(os.tmpdir(), `hearth-${prefix}-`))
  return {
    root,
    build: async (name, opts = {}) => {
      const dir = path.join(root, name)
      await buildModel(dir, opts)
      return dir
    },
    remove: () => rm(root, { recursive: true, force: true }),
  }
}
