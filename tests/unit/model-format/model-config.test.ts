// readModelConfig's bound on the declared context (issue 15): nothing is sized by it, and a
// value past MAX_CONTEXT_LENGTH is refused, naming the field that said it.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { AppError } from '../../../src-shared/errors.ts'
import { MAX_CONTEXT_LENGTH, readModelConfig } from '../../../src-main/model-format/model-config.ts'

const SHAPE = { model_type: 'llama', num_hidden_layers: 2, num_attention_heads: 4, hidden_size: 64, vocab_size: 300 }

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-config-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

async function configDir(context: Record<string, number>): Promise<string> {
  const dir = await mkdtemp(path.join(root, 'model-'))
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...SHAPE, ...context }))
  return dir
}

describe('readModelConfig', () => {
  it('takes a context of MAX_CONTEXT_LENGTH positions', async () => {
    const config = await readModelConfig(await configDir({ max_position_embeddings: MAX_CONTEXT_LENGTH }))
    assert.equal(config.contextLength, MAX_CONTEXT_LENGTH)
  })

  for (const [field, value] of [['max_position_embeddings', 1e9], ['n_positions', MAX_CONTEXT_LENGTH + 1], ['seq_length', 1e30]] as const) {
    it(`refuses ${field} ${value} as MODEL_INVALID, naming the field`, async () => {
      await assert.rejects(readModelConfig(await configDir({ [field]: value })), (err: unknown) => {
        assert.ok(err instanceof AppError)
        assert.equal(err.code, 'MODEL_INVALID')
        assert.ok(err.message.includes(`${field} (${value})`), err.message)
        assert.match(err.message, /16,777,216 tokens/)
        return true
      })
    })
  }
})
