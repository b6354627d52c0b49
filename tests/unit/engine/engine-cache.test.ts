// The engine's conversation caches across turns, edits, eviction, restarts and context overflow:
// every reply with reuse must equal the reply computed from scratch.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { Engine } from '../../../src-main/engine/engine.ts'
import type { GenerateResult, LoadOptions, PrefillReport } from '../../../src-main/model-format/protocol.ts'
import { loadTokenizer } from '../../../src-main/engine/tokenizer.ts'
import { commonPrefix, MIN_SEED_TOKENS } from '../../../src-main/engine/kv-pool.ts'
import type { ChatMessage, ContextPolicy } from '../../../src-shared/types.ts'
import { CHAT, GREEDY, tempModels } from './fixtures.ts'

const USER_TURNS = ['Tell me about the sea.', 'And the waves?', 'Why is it salty?', 'Thank you!']
const BYTES_PER_TOKEN = 2 * 2 * 2 * 16 * 4 // tiny model: K and V, 2 layers, 2 KV heads, head size 16, fp32

let models: Awaited<ReturnType<typeof tempModels>>
let tiny: string
const engines: Engine[] = []

before(async () => {
  models = await tempModels('engine-cache')
  tiny = await models.build('tiny')
})
after(async () => {
  for (const e of engines) await e.unload()
  await models.remove()
})

async function engineFor(dir: string, opts: LoadOptions = {}): Promise<Engine> {
  const engine = new Engine()
  engines.push(engine)
  await engine.load(dir, { providers: ['cpu'], threads: 1, ...opts })
  return engine
}

function reply(engine: Engine, messages: ChatMessage[], conversationId?: string, contextPolicy?: ContextPolicy): Promise<GenerateResult> {
  return engine.generate(
    { messages, params: GREEDY, ...(conversationId ? { conversationId } : {}), ...(contextPolicy ? { contextPolicy } : {}) },
    () => {},
    () => false,
  )
}

/**
 * The reply computed from scratch: an engine of its own with nothing cached, since a new
 * conversation on an engine that holds others starts from the longest prefix it shares with them.
 */
async function fresh(dir: string, messages: ChatMessage[]): Promise<GenerateResult> {
  const scratch = new Engine()
  await scratch.load(dir, { providers: ['cpu'], threads: 1 })
  try {
    const result = await reply(scratch, messages, 'scratch')
    assert.equal(result.stats.reusedTokens, 0)
    return result
  } finally {
    await scratch.unload()
  }
}

describe('Engine cache across turns', () => {
  it('gives the same greedy replies with reuse as without, over a multi-turn chat', async () => {
    const engine = await engineFor(tiny)
    const messages: ChatMessage[] = [CHAT[0]!]
    let previousPrompt = 0
    let cached = 0
    for (const [turn, text] of USER_TURNS.entries()) {
      messages.push({ role: 'user', content: text })
      const withReuse = await reply(engine, messages, 'chat')
      assert.deepEqual(withReuse.tokens, (await fresh(tiny, messages)).tokens, `turn ${turn + 1}`)
      // The whole previous prompt is reused, and the reply as far as its text re-tokenizes to
      // the tokens generated (a random model sometimes writes a non-canonical split).
      const reused = withReuse.stats.reusedTokens
      if (turn > 0) assert.ok(reused >= previousPrompt && reused <= cached, `turn ${turn + 1}: ${reused} reused`)
      previousPrompt = withReuse.stats.promptTokens
      cached = previousPrompt + withReuse.tokens.length - 1
      messages.push({ role: 'assistant', content: withReuse.text })
    }
  })

  it('truncates at an edit in the middle and prefills only from there', async () => {
    const engine = await engineFor(tiny)
    const messages: ChatMessage[] = [CHAT[0]!]
    for (const text of USER_TURNS.slice(0, 3)) {
      messages.push({ role: 'user', content: text })
      messages.push({ role: 'assistant', content: (await reply(engine, messages, 'edit')).text })
    }
    const cachedTokens = (await engine.info()).caches.find((c) => c.conversationId === 'edit')!.tokens
    // The user rewrites the second question: everything from there on is new.
    const edited: ChatMessage[] = [...messages.slice(0, 3), { role: 'user', content: 'What about the tides?' }]
    const tokenizer = await loadTokenizer(tiny)
    const before = tokenizer.encodeChat(messages, { addGenerationPrompt: false })
    const after = tokenizer.encodeChat(edited, { addGenerationPrompt: true })
    const result = await reply(engine, edited, 'edit')
    assert.ok(cachedTokens > result.stats.reusedTokens)
    assert.equal(result.stats.reusedTokens, commonPrefix(before, after))
    assert.deepEqual(result.tokens, (await fresh(tiny, edited)).tokens)
  })

  it('lets requests without a conversation reuse the closest cached prompt', async () => {
    const engine = await engineFor(tiny)
    const first = await reply(engine, CHAT)
    const followUp: ChatMessage[] = [...CHAT, { role: 'assistant', content: first.text }, { role: 'user', content: 'More.' }]
    const second = await reply(engine, followUp)
    assert.equal(second.stats.reusedTokens, first.stats.promptTokens + first.tokens.length - 1)
  })
})

describe('Engine cache budget and snapshots', () => {
  const turn2 = (first: GenerateResult): ChatMessage[] => [...CHAT, { role: 'assistant', content: first.text }, { role: 'user', content: 'Go on.' }]
  const other: ChatMessage[] = [{ role: 'user', content: 'A different conversation entirely.' }]

  it('evicts to disk when another conversation needs room, and restores with the same replies', async () => {
    const snapshotDir = path.join(models.root, 'snap-evict')
    // Room for one conversation: the second evicts the first.
    const engine = await engineFor(tiny, { kvBudgetBytes: 100 * BYTES_PER_TOKEN, snapshotDir })
    const first = await reply(engine, CHAT, 'a')
    await reply(engine, other, 'b')
    assert.deepEqual((await engine.info()).caches.map((c) => c.conversationId), ['b'])
    const again = await reply(engine, turn2(first), 'a')
    assert.equal(again.stats.reusedTokens, first.stats.promptTokens + first.tokens.length - 1)
    assert.deepEqual(again.tokens, (await fresh(tiny, turn2(first))).tokens)
  })

  it('holds the memory budget within 5% over many conversations', async () => {
    const budget = 150 * BYTES_PER_TOKEN
    const engine = await engineFor(tiny, { kvBudgetBytes: budget })
    for (let i = 0; i < 6; i++) {
      await reply(engine, [{ role: 'user', content: `Conversation number ${i}, with a question.` }], `c${i}`)
      const { kvBytes } = await engine.info()
      assert.ok(kvBytes <= budget * 1.05, `${kvBytes} bytes held, budget ${budget}`)
    }
  })

  /** A first turn in conversation 'kept', then a fresh engine on the same snapshot folder, as after a quit. */
  async function restarted(sub: string): Promise<{ first: GenerateResult; afterRestart: Engine; cached: number }> {
    const snapshotDir = path.join(models.root, sub)
    const before = await engineFor(tiny, { snapshotDir })
    const first = await reply(before, CHAT, 'kept')
    await before.unload()
    return { first, afterRestart: await engineFor(tiny, { snapshotDir }), cached: first.stats.promptTokens + first.tokens.length - 1 }
  }

  it('reopens a conversation after a restart from its snapshot', async () => {
    const { first, afterRestart, cached } = await restarted('snap-restart')
    const again = await reply(afterRestart, turn2(first), 'kept')
    assert.equal(again.stats.reusedTokens, cached)
    assert.deepEqual(again.tokens, (await fresh(tiny, turn2(first))).tokens)
  })

  it('reads a conversation cache ahead after a restart, and the next turn continues from it exactly', async () => {
    const { first, afterRestart, cached } = await restarted('snap-warm')
    assert.deepEqual(await afterRestart.warmCache('kept'), { from: 'snapshot', tokens: cached })
    assert.deepEqual(afterRestart.info().caches.map((c) => c.conversationId), ['kept'])
    const again = await reply(afterRestart, turn2(first), 'kept')
    assert.equal(again.stats.reusedTokens, cached)
    assert.deepEqual(again.tokens, (await fresh(tiny, turn2(first))).tokens)
  })

  it('ignores a snapshot made by another model in the same folder', async () => {
    const dir = await models.build('rebuilt')
    const snapshotDir = path.join(models.root, 'snap-mismatch')
    const before = await engineFor(dir, { snapshotDir })
    const first = await reply(before, CHAT, 'kept')
    await before.unload()
    await models.build('rebuilt', { seed: 7 })
    const afterRebuild = await engineFor(dir, { snapshotDir })
    const again = await reply(afterRebuild, turn2(first), 'kept')
    assert.equal(again.stats.reusedTokens, 0)
    assert.deepEqual(again.tokens, (await fresh(dir, turn2(first))).tokens)
  })
})

describe('Engine context overflow', () => {
  const long: ChatMessage[] = [
    { role: 'system', content: 'You are brief.' },
    ...USER_TURNS.flatMap((text): ChatMessage[] => [
      { role: 'user', content: text },
      { role: 'assistant', content: 'The sea is wide and the sea is deep.' },
    ]),
    { role: 'user', content: 'Last question?' },
  ]

  it('drops the oldest turns, says which, and answers', async () => {
    const engine = await engineFor(await models.build('short', { contextLength: 128 }))
    await assert.rejects(reply(engine, long, 'x', 'stop'), { code: 'CONTEXT_OVERFLOW' })
    const result = await reply(engine, long, 'x', 'drop-oldest')
    assert.deepEqual(result.stats.droppedMessages?.slice(0, 2), [1, 2])
    assert.ok(!result.stats.droppedMessages?.includes(0))
    assert.ok(result.stats.promptTokens + GREEDY.maxTokens <= 128, `${result.stats.promptTokens} prompt tokens`)
    assert.equal(result.stats.generatedTokens, GREEDY.maxTokens)
  })
})

describe('Engine cache for a document', () => {
  const document = 'The keeper of the north light climbs two hundred steps at dusk and winds the clockwork by hand. '.repeat(8)
  const ask = (question: string): ChatMessage[] => [{ role: 'user', content: `<document name="light.txt">\n${document}\n</document>\n\n${question}` }]

  it("starts a new conversation about the same document from the other one's prefix, with the reply computed from scratch", async () => {
    const engine = await engineFor(tiny)
    const first = await reply(engine, ask('Who winds the clockwork?'), 'a')
    assert.equal(first.stats.reusedTokens, 0)
    const question = ask('How many steps are there?')
    const second = await reply(engine, question, 'b')
    assert.ok(second.stats.reusedTokens >= MIN_SEED_TOKENS, `reused ${second.stats.reusedTokens}`)
    assert.ok(second.stats.reusedTokens < second.stats.promptTokens)
    assert.deepEqual(second.tokens, (await fresh(tiny, question)).tokens)
    // The first conversation's cache is its own still.
    const followUp = [...ask('Who winds the clockwork?'), { role: 'assistant' as const, content: first.text }, { role: 'user' as const, content: 'When?' }]
    const third = await reply(engine, followUp, 'a')
    assert.equal(third.stats.reusedTokens, first.stats.promptTokens + first.tokens.length - 1)
  })

  it('reports a prefill of several chunks, and a cancel keeps the chunks done for the next request', async () => {
    const engine = await engineFor(tiny, { prefillChunk: 16 })
    const reports: PrefillReport[] = []
    const messages = ask('Who winds the clockwork?')
    // Cancelled once the first report is out: the loop has prefilled one chunk by its next check.
    const cancelled = await engine.generate({ messages, params: GREEDY, conversationId: 'p' }, () => {}, () => reports.length > 0, (r) => reports.push(r))
    assert.equal(cancelled.stats.stopReason, 'cancelled')
    assert.equal(cancelled.stats.generatedTokens, 0)
    assert.deepEqual(reports, [{ done: 0, total: cancelled.stats.promptTokens, tokensPerSecond: 0 }])
    const resumed = await reply(engine, messages, 'p')
    assert.equal(resumed.stats.reusedTokens, 16)
    assert.deepEqual(resumed.tokens, (await fresh(tiny, messages)).tokens)

    // A prompt of one chunk (256 tokens by default) is not reported.
    const short: PrefillReport[] = []
    await (await engineFor(tiny)).generate({ messages: [{ role: 'user', content: 'Hi' }], params: GREEDY, conversationId: 'q' }, () => {}, () => false, (r) => short.push(r))
    assert.deepEqual(short, [])
  })

  it("counts tokens with the model's tokenizer, no special tokens added", async () => {
    const engine = await engineFor(tiny)
    const tokenizer = await loadTokenizer(tiny)
    const texts = ['', 'Who winds the clockwork?', document]
    assert.deepEqual(engine.countTokens(texts), texts.map((t) => tokenizer.encode(t).length))
    assert.equal(engine.countTokens([''])[0], 0)
  })
})
