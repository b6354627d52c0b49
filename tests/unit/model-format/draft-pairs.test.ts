// Draft pairs: the vocabulary fingerprint (what changes it and what does not) and which installed
// models are offered to draft for a model, with SmolLM2-style and Qwen-style tokenizers.

import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { ModelSummary } from '../../../src-shared/types.ts'
import { draftCandidates, vocabularyFingerprint } from '../../../src-main/model-format/draft-pairs.ts'
import { inspectModelFolder } from '../../../src-main/model-format/model-folder.ts'
import { tempModels } from '../engine/fixtures.ts'

type Json = Record<string, unknown>
type Tables = { model: { vocab: Record<string, number>; merges: [string, string][] }; added_tokens: { id: number; content: string }[] } & Json

let models: Awaited<ReturnType<typeof tempModels>>
before(async () => (models = await tempModels('draft-pairs')))
after(() => models.remove())

async function editJson(dir: string, file: string, edit: (json: Json) => Json | void): Promise<void> {
  const at = path.join(dir, file)
  const json = JSON.parse(await readFile(at, 'utf8')) as Json
  await writeFile(at, JSON.stringify(edit(json) ?? json))
}

const editTokenizer = (dir: string, edit: (t: Tables) => Json | void): Promise<void> => editJson(dir, 'tokenizer.json', (j) => edit(j as Tables))

/**
 * Qwen2's layout: the BPE vocabulary without the special tokens, which follow it as added tokens
 * only, and config.json's vocab_size padded past the last id (151,936 for 151,665 ids).
 */
async function qwenStyle(dir: string, paddedVocab: number): Promise<void> {
  await editTokenizer(dir, (t) => {
    const specials = new Set(t.added_tokens.map((a) => a.content))
    const ordinary = Object.entries(t.model.vocab).filter(([token]) => !specials.has(token))
    t.model.vocab = Object.fromEntries(ordinary.map(([token], id) => [token, id]))
    t.added_tokens = t.added_tokens.map((a, i) => ({ ...a, id: ordinary.length + i }))
  })
  await editJson(dir, 'config.json', (c) => ({ ...c, vocab_size: paddedVocab }))
}

async function valid(dir: string): Promise<Extract<ModelSummary, { valid: true }>> {
  const summary = await inspectModelFolder(dir)
  assert.ok(summary.valid, `${dir} is not a valid model folder`)
  return summary
}

describe('vocabularyFingerprint', () => {
  it('is the same for models of one vocabulary whatever their shapes, and differs for another vocabulary', async () => {
    const a = await vocabularyFingerprint(await models.build('fp-a', { layers: 1, seed: 3 }))
    const b = await vocabularyFingerprint(await models.build('fp-b', { layers: 3, hidden: 128, seed: 3 }))
    const other = await vocabularyFingerprint(await models.build('fp-other', { layers: 1, seed: 4 }))
    assert.match(a, /^[0-9a-f]{64}$/)
    assert.equal(a, b)
    assert.notEqual(a, other)
  })

  it('changes with any token id, merge or added token', async () => {
    const base = await vocabularyFingerprint(await models.build('fp-base', { layers: 1 }))
    const changed = async (name: string, edit: (t: Tables) => void): Promise<string> => {
      const dir = await models.build(name, { layers: 1 })
      await editTokenizer(dir, edit)
      return vocabularyFingerprint(dir)
    }
    const swapped = await changed('fp-swap', (t) => {
      const [x, y] = Object.keys(t.model.vocab).slice(100, 102) as [string, string]
      ;[t.model.vocab[x], t.model.vocab[y]] = [t.model.vocab[y]!, t.model.vocab[x]!]
    })
    const merge = await changed('fp-merge', (t) => void t.model.merges.reverse())
    const added = await changed('fp-added', (t) => void (t.added_tokens[2]!.content = '<|end|>'))
    assert.equal(new Set([base, swapped, merge, added]).size, 4)
  })

  it('ignores how the file is written and the pipeline around the vocabulary', async () => {
    const dir = await models.build('fp-rewritten', { layers: 1 })
    const before = await vocabularyFingerprint(dir)
    // Merges as "a b" strings (older tokenizers), another key order, another pre-tokenizer and decoder.
    await editTokenizer(dir, (t) => ({
      decoder: null,
      pre_tokenizer: { type: 'Metaspace' },
      added_tokens: [...t.added_tokens].reverse(),
      model: { ...t.model, vocab: Object.fromEntries(Object.entries(t.model.vocab).reverse()), merges: t.model.merges.map((m) => m.join(' ')) },
    }))
    assert.equal(await vocabularyFingerprint(dir), before)
  })

  it('reads the file again once it changes', async () => {
    const dir = await models.build('fp-cache', { layers: 1 })
    const first = await vocabularyFingerprint(dir)
    assert.equal(await vocabularyFingerprint(dir), first)
    await editTokenizer(dir, (t) => void (t.added_tokens[0]!.content = '<|other|>'))
    assert.notEqual(await vocabularyFingerprint(dir), first)
  })

  it('refuses a folder without a tokenizer vocabulary', async () => {
    await assert.rejects(vocabularyFingerprint(path.join(models.root, 'nowhere')), (err: Error & { code?: string }) => err.code === 'MODEL_INVALID')
    const dir = await models.build('fp-novocab', { layers: 1 })
    await editJson(dir, 'tokenizer.json', (t) => ({ ...t, model: { type: 'BPE' } }))
    await assert.rejects(vocabularyFingerprint(dir), /has no vocabulary/)
  })
})

describe('draftCandidates', () => {
  it('offers the smaller models of the same vocabulary and logits width, smallest first', async () => {
    const target = await valid(await models.build('smol-target', { layers: 4, seed: 11 }))
    const library: ModelSummary[] = [
      target,
      await valid(await models.build('smol-mid', { layers: 2, seed: 11 })),
      await valid(await models.build('smol-small', { layers: 1, seed: 11 })),
      // As big, or bigger: drafting with them costs as much as the model itself.
      await valid(await models.build('smol-same', { layers: 4, seed: 11 })),
      await valid(await models.build('smol-bigger', { layers: 6, seed: 11 })),
      // Another vocabulary: its ids mean other text.
      await valid(await models.build('other-small', { layers: 1, seed: 12 })),
      { valid: false, id: 'broken', name: 'broken', dir: path.join(models.root, 'broken'), reason: 'no weights' },
    ]
    const padded = await models.build('smol-padded', { layers: 1, seed: 11 })
    await editJson(padded, 'config.json', (c) => ({ ...c, vocab_size: 640 }))
    library.push(await valid(padded))

    const offered = await draftCandidates(target, library)
    assert.deepEqual(offered.map((m) => m.id), ['smol-small', 'smol-mid'])
    // Each of those has none smaller but the other.
    assert.deepEqual((await draftCandidates(offered[1]!, library)).map((m) => m.id), ['smol-small'])
    assert.deepEqual(await draftCandidates(offered[0]!, library), [])
  })

  it('pairs Qwen-style tokenizers (specials past the vocabulary, padded logits) and not with a SmolLM2-style one of the same tokens', async () => {
    const qwenTarget = await models.build('qwen-target', { layers: 3, seed: 21 })
    const qwenDraft = await models.build('qwen-draft', { layers: 1, seed: 21 })
    await qwenStyle(qwenTarget, 576)
    await qwenStyle(qwenDraft, 576)
    const smolDraft = await models.build('smol-draft', { layers: 1, seed: 21 })
    await editJson(smolDraft, 'config.json', (c) => ({ ...c, vocab_size: 576 }))
    const target = await valid(qwenTarget)
    const library = [target, await valid(qwenDraft), await valid(smolDraft)]
    // The same tokens, but the specials under other ids: not one vocabulary.
    assert.deepEqual((await draftCandidates(target, library)).map((m) => m.id), ['qwen-draft'])
  })

  it('offers nothing when the model itself has no parameter estimate', async () => {
    const dir = await models.build('unsized', { layers: 3, seed: 31 })
    await editJson(dir, 'config.json', (c) => {
      delete c.intermediate_size
    })
    const target = await valid(dir)
    assert.equal(target.parameters, null)
    assert.deepEqual(await draftCandidates(target, [target, await valid(await models.build('unsized-draft', { layers: 1, seed: 31 }))]), [])
  })
})
