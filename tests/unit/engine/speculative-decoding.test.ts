// Speculative decoding through the engine: greedy replies token-for-token the same as plain
// decoding for every draft source, across stop strings, the context end, a cancel between passes
// and an edit right after an accepted run; seeded sampling reproducible; the figures reported.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Engine } from '../../../src-main/engine/engine.ts'
import type { GenerateRequest, GenerateResult } from '../../../src-main/model-format/protocol.ts'
import type { ChatMessage, GenerationParams } from '../../../src-shared/types.ts'
import { GREEDY, tempModels } from './fixtures.ts'

let models: Awaited<ReturnType<typeof tempModels>>
/** A tiny model with an fp32 and a q4 file: the q4 one drafts for the fp32 one. */
let tiny: string
/** The same vocabulary, one layer fewer: a draft model that is often wrong. */
let other: string
const engines: Engine[] = []

before(async () => {
  models = await tempModels('speculative')
  tiny = await models.build('tiny', { q4: true, endless: true })
  other = await models.build('other', { layers: 1, endless: true })
})
after(async () => {
  for (const e of engines) await e.unload()
  await models.remove()
})

async function engineFor(dir: string, opts: Parameters<Engine['load']>[1] = {}): Promise<Engine> {
  const engine = new Engine()
  engines.push(engine)
  await engine.load(dir, { providers: ['cpu'], threads: 1, variant: 'fp32', ...opts })
  return engine
}

function run(engine: Engine, req: Partial<GenerateRequest> & { messages: ChatMessage[] }, cancelled: () => boolean = () => false): Promise<GenerateResult> {
  return engine.generate({ params: GREEDY, ...req }, () => {}, cancelled)
}

/** Prompts of varied length and wording: the random model's replies differ for each. */
const PROMPTS = Array.from({ length: 16 }, (_, i) => `Prompt ${i}: ${'tell me about the sea and the sky '.repeat(1 + (i % 4))}${i * 37}`)
const ask = (text: string): ChatMessage[] => [{ role: 'user', content: text }]
const LONG: GenerationParams = { ...GREEDY, maxTokens: 48 }

/** Replaces every `every`-th word of a text: a prediction that is close, not exact. */
function edit(text: string, every: number): string {
  return text
    .split(' ')
    .map((word, i) => (i % every === every - 1 ? 'zz' : word))
    .join(' ')
}

describe('speculative decoding, greedy', () => {
  let plain: Engine
  let spec: Engine
  let withDraft: Engine
  let withWrongDraft: Engine
  const reference = new Map<string, GenerateResult>()

  before(async () => {
    plain = await engineFor(tiny)
    spec = await engineFor(tiny)
    withDraft = await engineFor(tiny, { draftModelDir: tiny })
    withWrongDraft = await engineFor(tiny, { draftModelDir: other })
    for (const prompt of PROMPTS) reference.set(prompt, await run(plain, { messages: ask(prompt), params: LONG, speculate: false }))
  })

  it('loads the draft models beside the target and says so', () => {
    assert.deepEqual(spec.info().model?.speculation, { available: true, draftModelId: null })
    assert.equal(withDraft.info().model?.speculation.draftModelId, 'tiny')
    assert.equal(withWrongDraft.info().model?.speculation.draftModelId, 'other')
  })

  it('gives the same tokens as plain decoding with drafts from the text', async () => {
    let drafted = 0
    let accepted = 0
    for (const prompt of PROMPTS) {
      const result = await run(spec, { messages: ask(prompt), params: LONG })
      const want = reference.get(prompt)!
      assert.deepEqual(result.tokens, want.tokens, prompt)
      assert.equal(result.text, want.text)
      assert.equal(result.stats.stopReason, want.stats.stopReason)
      drafted += result.stats.speculation?.drafted ?? 0
      accepted += result.stats.speculation?.accepted ?? 0
    }
    // The random model repeats itself: lookup drafts are made and some are kept, so the identity
    // above was checked on verified runs, not on plain passes alone.
    assert.ok(drafted > 0 && accepted > 0, `drafted ${drafted}, accepted ${accepted}`)
  })

  it('gives the same tokens with an exact, an edited and a wrong prediction', async () => {
    for (const prompt of PROMPTS.slice(0, 6)) {
      const want = reference.get(prompt)!
      for (const prediction of [want.text, edit(want.text, 4), 'something else entirely']) {
        const result = await run(spec, { messages: ask(prompt), params: LONG, prediction })
        assert.deepEqual(result.tokens, want.tokens, `${prompt} / ${prediction}`)
      }
      const exact = await run(spec, { messages: ask(prompt), params: LONG, prediction: want.text })
      assert.ok(exact.stats.speculation!.sources.includes('prediction'))
      // An exact prediction is the reply: what is drafted is mostly kept (text lookup drafts beside
      // it can miss). How much is drafted per pass follows the measured pass times, so a loaded
      // machine drafts less: the share kept is asserted, not the share of the reply.
      const { drafted, accepted } = exact.stats.speculation!
      assert.ok(accepted >= 1 && accepted >= drafted / 2, JSON.stringify(exact.stats.speculation))
    }
  })

  it('gives the same tokens with a draft model, right or wrong', async () => {
    const kept: number[] = []
    for (const prompt of PROMPTS.slice(0, 8)) {
      const want = reference.get(prompt)!
      for (const engine of [withDraft, withWrongDraft]) {
        const result = await run(engine, { messages: ask(prompt), params: LONG })
        assert.deepEqual(result.tokens, want.tokens, prompt)
        if (result.stats.speculation?.sources.includes('model')) kept.push(result.stats.speculation.accepted)
      }
    }
    assert.ok(kept.some((n) => n > 0), 'the q4 copy of the model drafts tokens the model keeps')
  })

  it('stops at the same place on a stop string', async () => {
    for (const prompt of PROMPTS.slice(0, 6)) {
      const want = reference.get(prompt)!
      // A stop string from the middle of the reply: the reply is cut right before it.
      const stop = want.text.slice(Math.floor(want.text.length / 2)).slice(0, 3)
      if (stop.trim().length === 0) continue
      const params = { ...LONG, stop: [stop] }
      const a = await run(plain, { messages: ask(prompt), params, speculate: false })
      const b = await run(spec, { messages: ask(prompt), params, prediction: want.text })
      assert.equal(a.stats.stopReason, 'stop-string')
      assert.equal(b.text, a.text)
      assert.deepEqual(b.tokens, a.tokens)
      assert.equal(b.stats.stopReason, 'stop-string')
    }
  })

  it('stops at the same place at the context end', async () => {
    const short = await models.build('short', { contextLength: 64, endless: true })
    const a = await run(await engineFor(short), { messages: ask('Count the waves'), params: { ...GREEDY, maxTokens: 200 }, speculate: false })
    const b = await run(await engineFor(short), { messages: ask('Count the waves'), params: { ...GREEDY, maxTokens: 200 }, prediction: a.text })
    assert.equal(a.stats.stopReason, 'length')
    assert.deepEqual(b.tokens, a.tokens)
    assert.equal(b.stats.promptTokens + b.stats.generatedTokens, 64)
    assert.ok(b.stats.speculation!.accepted > 0)
  })

  it('stops at the same place at the token limit with a long prediction', async () => {
    const prompt = PROMPTS[3]!
    const want = reference.get(prompt)!
    const params = { ...LONG, maxTokens: 17 }
    const result = await run(spec, { messages: ask(prompt), params, prediction: want.text })
    assert.deepEqual(result.tokens, want.tokens.slice(0, 17))
    assert.equal(result.stats.stopReason, 'length')
  })

  it('keeps the cache consistent after a cancel between passes', async () => {
    const prompt = PROMPTS[5]!
    const want = reference.get(prompt)!
    const engine = await engineFor(tiny)
    // Cancelled after a few reads of the flag: within a verification run of the exact prediction.
    let reads = 0
    const cut = await run(engine, { conversationId: 'c', messages: ask(prompt), params: LONG, prediction: want.text }, () => ++reads > 4)
    assert.equal(cut.stats.stopReason, 'cancelled')
    assert.ok(cut.tokens.length > 0 && cut.tokens.length < want.tokens.length, `${cut.tokens.length} tokens`)
    assert.deepEqual(cut.tokens, want.tokens.slice(0, cut.tokens.length))
    // The cache holds the prompt and the reply but its last token, as plain decoding leaves it.
    assert.equal(engine.info().caches.find((c) => c.conversationId === 'c')?.tokens, cut.stats.promptTokens + cut.tokens.length - 1)
    // Carrying on from the cut reply reuses that cache and ends where the uncut reply ends.
    const rest = await run(engine, {
      conversationId: 'c',
      messages: [...ask(prompt), { role: 'assistant', content: cut.text }],
      params: { ...LONG, maxTokens: LONG.maxTokens - cut.tokens.length },
      continueLast: true,
      prediction: want.text.slice(cut.text.length),
    })
    const carried = await run(plain, {
      messages: [...ask(prompt), { role: 'assistant', content: cut.text }],
      params: { ...LONG, maxTokens: LONG.maxTokens - cut.tokens.length },
      continueLast: true,
      speculate: false,
    })
    assert.deepEqual(rest.tokens, carried.tokens)
    assert.ok(rest.stats.reusedTokens > 0)
  })

  it('gives the same tokens on an edit right after an accepted run', async () => {
    const prompt = PROMPTS[7]!
    const want = reference.get(prompt)!
    const engine = await engineFor(tiny)
    const first = await run(engine, { conversationId: 'e', messages: ask(prompt), params: LONG, prediction: want.text })
    assert.ok(first.stats.speculation!.accepted > 0)
    // The user edits the reply to its first half and asks again: the cache is cut inside the run
    // the drafts made, and the next reply is prefilled from there.
    const half = first.text.slice(0, Math.floor(first.text.length / 2))
    const edited: ChatMessage[] = [...ask(prompt), { role: 'assistant', content: half }, { role: 'user', content: 'Again.' }]
    const a = await run(engine, { conversationId: 'e', messages: edited, params: LONG })
    const b = await run(plain, { messages: edited, params: LONG, speculate: false })
    assert.deepEqual(a.tokens, b.tokens)
    assert.ok(a.stats.reusedTokens > 0)
  })
})

describe('speculative decoding, sampled', () => {
  const SAMPLED: GenerationParams = { ...LONG, temperature: 0.8, topK: 40, topP: 0.95, seed: 1234 }

  it('gives the same sampled reply as plain decoding with the same seed, drafting from the text', async () => {
    const plain = await engineFor(tiny)
    const spec = await engineFor(tiny)
    let accepted = 0
    for (const prompt of PROMPTS.slice(0, 6)) {
      const want = await run(plain, { messages: ask(prompt), params: SAMPLED, speculate: false })
      // The reply itself as the prediction: drafts are checked against sampled choices.
      const got = await run(spec, { messages: ask(prompt), params: SAMPLED, prediction: want.text })
      assert.deepEqual(got.tokens, want.tokens, prompt)
      accepted += got.stats.speculation?.accepted ?? 0
    }
    assert.ok(accepted > 0)
  })

  it('is reproducible with a seed when a draft model samples drafts', async () => {
    const engine = await engineFor(tiny, { draftModelDir: other })
    const a = await run(engine, { messages: ask(PROMPTS[1]!), params: SAMPLED })
    const b = await run(engine, { messages: ask(PROMPTS[1]!), params: SAMPLED })
    assert.deepEqual(a.tokens, b.tokens)
    assert.equal(a.tokens.length, SAMPLED.maxTokens)
    assert.ok(a.stats.speculation?.sources.includes('model'), JSON.stringify(a.stats.speculation))
  })

  it('draws tokens the sampler could draw: drafts kept only where the model gives them weight', async () => {
    const engine = await engineFor(tiny, { draftModelDir: tiny })
    const result = await run(engine, { messages: ask(PROMPTS[2]!), params: { ...SAMPLED, topK: 1 } })
    // top-k 1 is greedy: the sampled path must agree with plain argmax.
    const want = await run(await engineFor(tiny), { messages: ask(PROMPTS[2]!), params: { ...SAMPLED, topK: 1 }, speculate: false })
    assert.deepEqual(result.tokens, want.tokens)
  })
})

describe('speculative decoding, reporting and refusals', () => {
  it('reports nothing when off, and the drafts when on', async () => {
    const engine = await engineFor(tiny)
    const off = await run(engine, { messages: ask(PROMPTS[0]!), params: LONG, speculate: false })
    assert.equal(off.stats.speculation, undefined)
    const on = await run(engine, { messages: ask(PROMPTS[0]!), params: LONG, prediction: off.text })
    const s = on.stats.speculation!
    assert.ok(s.accepted <= s.drafted && s.passes > 0 && s.passes <= s.drafted)
    // Every reply token but the first comes from a pass: kept drafts plus one own token per pass,
    // and plain passes for the rest.
    assert.ok(s.accepted + s.passes <= on.tokens.length)
  })

  it('decodes plainly, saying why, where a pass cannot take several tokens', async () => {
    const single = await models.build('single', { singleTokenPass: true, endless: true })
    const engine = await engineFor(single)
    const info = engine.info().model!.speculation
    assert.equal(info.available, false)
    assert.match(info.reason ?? '', /several new tokens/)
    const a = await run(engine, { messages: ask(PROMPTS[0]!), params: LONG })
    assert.equal(a.stats.speculation, undefined)
  })

  it('loads the model without a draft model whose vocabulary differs, saying why', async () => {
    const otherVocab = await models.build('other-vocab', { vocab: 384 })
    const engine = await engineFor(tiny, { draftModelDir: otherVocab })
    const info = engine.info().model!.speculation
    assert.equal(info.draftModelId, null)
    assert.match(info.draftModelError ?? '', /vocabular/)
    const result = await run(engine, { messages: ask(PROMPTS[0]!), params: LONG })
    assert.equal(result.tokens.length, LONG.maxTokens)
  })

  it('loads the model without a draft model that is not a model folder, saying why', async () => {
    const engine = await engineFor(tiny, { draftModelDir: models.root })
    assert.equal(engine.info().model!.speculation.draftModelId, null)
    assert.ok((engine.info().model!.speculation.draftModelError ?? '').length > 0)
  })
})
