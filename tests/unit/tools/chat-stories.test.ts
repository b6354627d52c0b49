// `npm run chat` on the trained stories260K model imported from its GGUF: --temperature 0 alone
// prints the fixture's reference text, streamed and as JSON.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { convertGguf } from '../../../src-main/models/gguf/convert.ts'
import { STORIES_GGUF, STORIES_REFERENCE, storiesMissing } from '../../../tools/stories-fixture.ts'

const ROOT = path.resolve(import.meta.dirname, '../../..')
const PROMPT = 'Once upon a time'
const CONTINUATION = STORIES_REFERENCE.slice(PROMPT.length)
/** The continuation's tokens: the reference's 61 less the prompt's 4. */
const MAX_TOKENS = '57'
const skip = storiesMissing() ?? false

let root = ''
let model = ''

before(async () => {
  if (skip) return
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-chat-stories-'))
  model = path.join(root, 'stories260K')
  await convertGguf(STORIES_GGUF, model)
})
after(() => root && rm(root, { recursive: true, force: true }))

function chat(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, ['--import', 'tsx', 'tools/chat.ts', ...args], { cwd: ROOT })
}

describe('npm run chat on stories260K', () => {
  it(`prints the reference after "${PROMPT}" with --temperature 0 and no other sampling flag`, { skip }, async () => {
    const { stdout } = await chat(['--model', model, '--provider', 'cpu', '--temperature', '0', '--max-tokens', MAX_TOKENS, PROMPT])
    assert.ok(stdout.startsWith(`${CONTINUATION}\n\n[fp32 on cpu,`), stdout)
  })

  it('says in --json that it sampled by plain argmax with the rewrites on, and returns the same text', { skip }, async () => {
    const { stdout } = await chat(['--model', model, '--provider', 'cpu', '--temperature', '0', '--max-tokens', MAX_TOKENS, '--json', PROMPT])
    const out = JSON.parse(stdout)
    assert.equal(out.text, CONTINUATION)
    assert.equal(out.tokens, 57)
    assert.equal(out.stats.promptTokens, 5)
    assert.deepEqual(out.params, { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 })
    assert.equal(out.model.kvUpdate, 'split')
    assert.deepEqual(out.model.fusions, ['rotary embedding ×10', 'residual add + RMSNorm ×10'])
  })
})
