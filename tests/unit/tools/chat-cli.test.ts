// Tests for `npm run chat`: the JSON output and errors.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { tempModels } from '../engine/fixtures.ts'

const ROOT = path.resolve(import.meta.dirname, '../../..')
let models: Awaited<ReturnType<typeof tempModels>>
let tiny: string

before(async () => {
  models = await tempModels('chat')
  tiny = await models.build('tiny')
})
after(() => models.remove())

function chat(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, ['--import', 'tsx', 'tools/chat.ts', ...args], { cwd: ROOT })
}

describe('npm run chat', () => {
  it('prints one JSON object with the reply and its stats', async () => {
    const args = ['--model', tiny, '--temperature', '0', '--max-tokens', '7', '--json', 'Hello there']
    const { stdout } = await chat(args)
    const out = JSON.parse(stdout)
    assert.equal(out.tokens, 7)
    assert.equal(typeof out.text, 'string')
    assert.deepEqual(Object.keys(out.stats), [
      'promptTokens', 'reusedTokens', 'ttftMs', 'prefillTokensPerSecond', 'decodeTokensPerSecond', 'stopReason', 'provider',
    ])
    assert.equal(out.stats.stopReason, 'length')
    assert.equal(out.stats.reusedTokens, 0)
    // Greedy: the same reply again.
    assert.equal(JSON.parse((await chat(args)).stdout).text, out.text)
  })

  it('exits non-zero with the error code and message for a bad folder', async () => {
    await assert.rejects(chat(['--model', path.join(models.root, 'nope'), 'hi']), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1)
      assert.match(err.stderr, /MODEL_INVALID: .*is not a folder/)
      return true
    })
  })
})
