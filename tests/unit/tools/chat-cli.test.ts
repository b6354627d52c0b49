// Tests for `npm run chat`: the JSON output, the sampling flags and errors.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { loadModel } from '../../../src-main/engine/load-model.ts'
import { tempModels } from '../engine/fixtures.ts'

const ROOT = path.resolve(import.meta.dirname, '../../..')
let models: Awaited<ReturnType<typeof tempModels>>
let tiny: string
/** The tiny model again, with a sampling recipe (penalty included) in its generation_config.json. */
let withRecipe: string

before(async () => {
  models = await tempModels('chat')
  tiny = await models.build('tiny')
  withRecipe = await models.build('recipe')
  const file = path.join(withRecipe, 'generation_config.json')
  const recipe = { do_sample: true, temperature: 0.9, top_k: 20, repetition_penalty: 1.3 }
  await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), ...recipe }))
})
after(() => models.remove())

/** The reply of a bare argmax loop over the session's logits: no sampler, no penalty. */
async function argmaxReply(dir: string, prompt: string, maxTokens: number): Promise<{ text: string; tokens: number }> {
  const { session, tokenizer } = await loadModel(dir, { providers: ['cpu'], threads: 1 })
  try {
    const kv = session.emptyCache()
    let logits = await session.forward(kv, tokenizer.encodeChat([{ role: 'user', content: prompt }], { addGenerationPrompt: true }), { logits: 'last' })
    const ids: number[] = []
    while (ids.length < maxTokens) {
      let best = 0
      for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i
      if (tokenizer.eosIds.has(best)) break
      ids.push(best)
      logits = await session.forward(kv, [best], { logits: 'last' })
    }
    kv.dispose()
    return { text: tokenizer.decode(ids), tokens: ids.length }
  } finally {
    await session.release()
  }
}

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
      'promptTokens', 'reusedTokens', 'ttftMs', 'prefillTokensPerSecond', 'decodeTokensPerSecond', 'stopReason', 'provider', 'speculation',
    ])
    // How the model runs: the KV update, what was fused, where, and whether it can speculate.
    assert.deepEqual(Object.keys(out.model), ['variant', 'provider', 'kvUpdate', 'kvUpdateNotes', 'fusions', 'speculation'])
    assert.deepEqual(out.model.speculation, { available: true, draftModelId: null })
    assert.equal(out.model.variant, 'fp32')
    assert.equal(out.model.provider, 'cpu')
    assert.equal(out.model.kvUpdate, 'split')
    assert.deepEqual(out.model.kvUpdateNotes, [])
    assert.deepEqual(out.model.fusions, ['rotary embedding ×4', 'residual add + RMSNorm ×4'])
    assert.equal(out.stats.stopReason, 'length')
    assert.equal(out.stats.reusedTokens, 0)
    // Greedy: the same reply again.
    assert.equal(JSON.parse((await chat(args)).stdout).text, out.text)
  })

  it('speculates from a --prediction file, with the same reply as --no-speculate, and reports the drafts in the stats', async () => {
    const args = ['--model', tiny, '--temperature', '0', '--max-tokens', '24', '--json', 'Hello there']
    const plain = JSON.parse((await chat([...args, '--no-speculate'])).stdout)
    assert.equal(plain.stats.speculation, null)
    const file = path.join(models.root, 'prediction.txt')
    await writeFile(file, plain.text)
    const predicted = JSON.parse((await chat([...args, '--prediction', file])).stdout)
    assert.equal(predicted.text, plain.text)
    const { drafted, accepted, passes, sources } = predicted.stats.speculation
    assert.ok(sources.includes('prediction'), `sources: ${sources}`)
    // The prediction is the reply itself: most of it is accepted, several tokens a pass.
    assert.ok(accepted <= drafted && accepted >= plain.tokens / 2, `accepted ${accepted} of ${drafted} for ${plain.tokens} tokens`)
    assert.ok(passes < accepted, `${passes} passes for ${accepted} accepted tokens`)
    await assert.rejects(chat([...args, '--prediction', path.join(models.root, 'missing.txt')]), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2)
      assert.match(err.stderr, /^--prediction: ENOENT/)
      return true
    })
  })

  it('loads a --draft-model beside the model: the same greedy reply, the draft named in the model info, or why it was not used', async () => {
    const args = ['--model', tiny, '--temperature', '0', '--max-tokens', '16', '--json', 'Hello there']
    const plain = JSON.parse((await chat([...args, '--no-speculate'])).stdout)
    const drafted = JSON.parse((await chat([...args, '--draft-model', await models.build('draft', { layers: 1 })])).stdout)
    assert.equal(drafted.model.speculation.draftModelId, 'draft')
    assert.equal(drafted.text, plain.text)
    assert.ok(drafted.stats.speculation.sources.includes('model'), `sources: ${drafted.stats.speculation.sources}`)
    const refused = JSON.parse((await chat([...args, '--draft-model', await models.build('stranger', { layers: 1, seed: 5 })])).stdout)
    assert.equal(refused.model.speculation.draftModelId, null)
    assert.match(refused.model.speculation.draftModelError, /vocabular/)
    assert.equal(refused.text, plain.text)
  })

  it("with --temperature 0 alone, replies as a bare argmax loop does, whatever the model's recipe", async () => {
    const { stdout } = await chat(['--model', withRecipe, '--temperature', '0', '--max-tokens', '24', '--json', 'Hello there'])
    const out = JSON.parse(stdout)
    assert.deepEqual(out.params, { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 })
    const expected = await argmaxReply(withRecipe, 'Hello there', 24)
    assert.equal(out.text, expected.text)
    assert.equal(out.tokens, expected.tokens)
    // The penalty, asked for, changes the reply: the comparison above could have failed.
    const penalised = JSON.parse((await chat(['--model', withRecipe, '--temperature', '0', '--repetition-penalty', '1.3', '--max-tokens', '24', '--json', 'Hello there'])).stdout)
    assert.equal(penalised.params.repetitionPenalty, 1.3)
    assert.notEqual(penalised.text, expected.text)
  })

  it("samples with the model's generation_config.json where no flag is given, and each flag wins over it", async () => {
    const recipe = JSON.parse((await chat(['--model', withRecipe, '--max-tokens', '2', '--json', 'Hi'])).stdout)
    assert.deepEqual(recipe.params, { temperature: 0.9, topK: 20, topP: 1, minP: 0, repetitionPenalty: 1.3 })
    const flags = ['--top-k', '5', '--top-p', '0.5', '--min-p', '0.1', '--repetition-penalty', '1.05']
    const asked = JSON.parse((await chat(['--model', withRecipe, ...flags, '--max-tokens', '2', '--json', 'Hi'])).stdout)
    assert.deepEqual(asked.params, { temperature: 0.9, topK: 5, topP: 0.5, minP: 0.1, repetitionPenalty: 1.05 })
    // A model that names none: no penalty, no cut.
    const neutral = JSON.parse((await chat(['--model', tiny, '--max-tokens', '2', '--json', 'Hi'])).stdout)
    assert.deepEqual(neutral.params, { temperature: 0.7, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 })
  })

  it('refuses a sampling flag out of its range, saying which, and lists every flag in --help', async () => {
    const bad: [string, string | undefined][] = [['--top-p', '0'], ['--top-k', '2.5'], ['--min-p', '1.5'], ['--repetition-penalty', '0'], ['--temperature=-1', undefined], ['--top-k', 'x']]
    for (const [flag, value] of bad) {
      await assert.rejects(chat(['--model', tiny, flag, ...(value === undefined ? [] : [value]), 'hi']), (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2)
        assert.match(err.stderr, new RegExp(`^${flag.split('=')[0]} must be `))
        return true
      })
    }
    const { stdout } = await chat(['--help'])
    for (const flag of ['--temperature', '--top-k', '--top-p', '--min-p', '--repetition-penalty', '--seed', '--max-tokens', '--no-speculate', '--prediction', '--draft-model']) {
      assert.match(stdout, new RegExp(`^  ${flag} `, 'm'))
    }
  })

  it('exits non-zero with the error code and message for a bad folder', async () => {
    await assert.rejects(chat(['--model', path.join(models.root, 'nope'), 'hi']), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1)
      assert.match(err.stderr, /MODEL_INVALID: .*is not a folder/)
      return true
    })
  })
})
