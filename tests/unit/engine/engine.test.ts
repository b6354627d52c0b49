// Engine tests on tiny generated models: golden greedy output, seeded sampling, stops, reuse, bad input.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Engine } from '../../../src-main/engine/engine.ts'
import { openSession } from '../../../src-main/engine/open-session.ts'
import { ESTIMATE_CONTEXT, estimateMemory } from '../../../src-main/model-format/memory-estimate.ts'
import { readModelConfig } from '../../../src-main/model-format/model-config.ts'
import { chooseVariant, inspectModelFolder } from '../../../src-main/model-format/model-folder.ts'
import type { GenerateResult } from '../../../src-main/model-format/protocol.ts'
import type { ChatMessage, GenerationParams } from '../../../src-shared/types.ts'
import { GraphBuilder } from '../../../src-main/models/onnx-writer/graph-builder.ts'
import { CHAT, GREEDY, tempModels } from './fixtures.ts'

// Greedy reply of the default tiny model (seed 42) to CHAT. A change here means the model
// builder, the template, the tokenizer or the decode loop changed what the model computes.
const GOLDEN = [13, 266, 339, 339, 339, 94, 87, 87, 87, 87, 87, 87]

let models: Awaited<ReturnType<typeof tempModels>>
let tiny: string
const engines: Engine[] = []

before(async () => {
  models = await tempModels('engine')
  tiny = await models.build('tiny')
})
after(async () => {
  for (const e of engines) await e.unload()
  await models.remove()
})

async function engineFor(dir: string, opts: Parameters<Engine['load']>[1] = {}): Promise<Engine> {
  const engine = new Engine()
  engines.push(engine)
  await engine.load(dir, { providers: ['cpu'], threads: 1, ...opts })
  return engine
}

function run(engine: Engine, messages: ChatMessage[], params: GenerationParams = GREEDY, conversationId?: string): Promise<GenerateResult> {
  return engine.generate({ messages, params, ...(conversationId ? { conversationId } : {}) }, () => {}, () => false)
}

describe('Engine#generate', () => {
  it('matches the golden greedy token list', async () => {
    const result = await run(await engineFor(tiny), CHAT)
    assert.deepEqual(result.tokens, GOLDEN)
    assert.equal(result.stats.stopReason, 'length')
    assert.equal(result.stats.generatedTokens, GOLDEN.length)
    assert.equal(result.stats.provider, 'cpu')
  })

  it('streams exactly the text it returns', async () => {
    const engine = await engineFor(tiny)
    let streamed = ''
    const result = await engine.generate({ messages: CHAT, params: GREEDY }, (t) => (streamed += t), () => false)
    assert.equal(streamed, result.text)
    assert.ok(result.text.length > 0)
  })

  it('repeats a seeded sampled reply and changes with the seed', async () => {
    const engine = await engineFor(tiny)
    const sampled = { ...GREEDY, temperature: 1, topK: 0, topP: 1, minP: 0, maxTokens: 24 }
    const a = await run(engine, CHAT, { ...sampled, seed: 1 })
    const b = await run(engine, CHAT, { ...sampled, seed: 1 })
    const c = await run(engine, CHAT, { ...sampled, seed: 2 })
    assert.deepEqual(b.tokens, a.tokens)
    assert.notDeepEqual(c.tokens, a.tokens)
    assert.notDeepEqual(a.tokens, GOLDEN.slice(0, a.tokens.length))
  })

  it('gives the same greedy reply with the prompt prefilled in chunks', async () => {
    const chunked = await run(await engineFor(tiny, { prefillChunk: 5 }), CHAT)
    assert.deepEqual(chunked.tokens, GOLDEN)
  })

  it('stops on every eos id that generation_config.json lists', async () => {
    const dir = await models.build('eos')
    const file = path.join(dir, 'generation_config.json')
    const config = JSON.parse(await readFile(file, 'utf8'))
    // The first greedy token not seen before becomes an eos id: the reply stops before it.
    const at = GOLDEN.findIndex((t, i) => i > 0 && !GOLDEN.slice(0, i).includes(t))
    await writeFile(file, JSON.stringify({ ...config, eos_token_id: [...config.eos_token_id, GOLDEN[at]] }))
    const result = await run(await engineFor(dir), CHAT)
    assert.deepEqual(result.tokens, GOLDEN.slice(0, at))
    assert.equal(result.stats.stopReason, 'eos')
  })

  it('stops on a stop string and leaves it out of the text', async () => {
    const engine = await engineFor(tiny)
    const full = await run(engine, CHAT)
    const stop = full.text.slice(4, 7)
    const result = await run(engine, CHAT, { ...GREEDY, stop: [stop] })
    assert.equal(result.stats.stopReason, 'stop-string')
    assert.equal(result.text, full.text.slice(0, full.text.indexOf(stop)))
  })

  it('counts tokens per second and time to first token', async () => {
    const { stats } = await run(await engineFor(tiny), CHAT)
    assert.ok(stats.promptTokens > 10)
    assert.equal(stats.reusedTokens, 0)
    assert.ok(stats.ttftMs > 0 && stats.prefillMs > 0 && stats.ttftMs >= stats.prefillMs)
    assert.ok(stats.prefillTokensPerSecond > 0 && stats.decodeTokensPerSecond > 0)
  })

  it('carries on an unfinished reply from its text', async () => {
    const engine = await engineFor(tiny)
    const half = await run(engine, CHAT, { ...GREEDY, maxTokens: 6 })
    const rest = await engine.generate(
      { messages: [...CHAT, { role: 'assistant', content: half.text }], params: { ...GREEDY, maxTokens: 6 }, continueLast: true },
      () => {},
      () => false,
    )
    assert.deepEqual([...half.tokens, ...rest.tokens], GOLDEN)
    await assert.rejects(
      engine.generate({ messages: CHAT, params: GREEDY, continueLast: true }, () => {}, () => false),
      { code: 'BAD_REQUEST' },
    )
  })

  it('emits no further token once cancelled', async () => {
    let cancelled = false
    let afterCancel = 0
    const result = await (await engineFor(tiny)).generate(
      { messages: CHAT, params: { ...GREEDY, maxTokens: 500 } },
      () => {
        if (cancelled) afterCancel++
        cancelled = true
      },
      () => cancelled,
    )
    assert.equal(result.stats.stopReason, 'cancelled')
    // At most the held-back end of the text is flushed; no new token is decoded.
    assert.ok(afterCancel <= 1, `${afterCancel} pieces after cancel`)
    assert.ok(result.stats.generatedTokens <= 3, `${result.stats.generatedTokens} tokens`)
  })

  it('stops at once when cancelled before the first token', async () => {
    const result = await (await engineFor(tiny)).generate({ messages: CHAT, params: GREEDY }, () => {}, () => true)
    assert.equal(result.stats.stopReason, 'cancelled')
    assert.equal(result.stats.generatedTokens, 0)
  })
})

describe('Engine conversation cache', () => {
  it('prefills only the new turn and replies as a fresh engine does', async () => {
    const engine = await engineFor(tiny)
    const first = await run(engine, CHAT, GREEDY, 'c1')
    const turn2: ChatMessage[] = [...CHAT, { role: 'assistant', content: first.text }, { role: 'user', content: 'Again.' }]
    const second = await run(engine, turn2, GREEDY, 'c1')
    const fresh = await run(await engineFor(tiny), turn2)
    assert.deepEqual(second.tokens, fresh.tokens)
    assert.equal(fresh.stats.reusedTokens, 0)
    // The prompt and the reply's own tokens were cached (all but the last reply token, which was
    // sampled but never evaluated): the reply re-tokenizes as generated, so only the new turn is prefilled.
    assert.equal(second.stats.reusedTokens, first.stats.promptTokens + first.tokens.length - 1)
  })

  it('evaluates the last token again when the whole prompt is cached', async () => {
    const engine = await engineFor(tiny)
    const a = await run(engine, CHAT, GREEDY, 'same')
    const b = await run(engine, CHAT, GREEDY, 'same')
    assert.deepEqual(b.tokens, a.tokens)
    assert.equal(b.stats.reusedTokens, b.stats.promptTokens - 1)
  })

  it('reuses the cache one token at a time on a graph without multi-token passes', async () => {
    const dir = await models.build('single-token-pass', { singleTokenPass: true })
    const engine = await engineFor(dir)
    assert.equal(engine.info().model?.multiTokenPass, false)
    const first = await run(engine, CHAT, GREEDY, 'c')
    assert.deepEqual(first.tokens, GOLDEN)
    const turn2: ChatMessage[] = [...CHAT, { role: 'assistant', content: first.text }, { role: 'user', content: 'More.' }]
    const second = await run(engine, turn2, GREEDY, 'c')
    assert.ok(second.stats.reusedTokens > 0)
    assert.deepEqual(second.tokens, (await run(await engineFor(tiny), turn2)).tokens)
  })
})

describe('Engine#load with bad input', () => {
  it('names a missing file', async () => {
    const dir = await models.build('missing')
    await rm(path.join(dir, 'tokenizer.json'))
    await assert.rejects(new Engine().load(dir, { providers: ['cpu'] }), {
      code: 'MODEL_INVALID',
      message: /tokenizer\.json is missing/,
    })
  })

  it('names a corrupt graph', async () => {
    const dir = await models.build('corrupt')
    const file = path.join(dir, 'onnx', 'model.onnx')
    const bytes = await readFile(file)
    await writeFile(file, bytes.subarray(0, bytes.length >> 1))
    await assert.rejects(new Engine().load(dir, { providers: ['cpu'] }), {
      code: 'MODEL_INVALID',
      message: /could not be loaded/,
    })
  })

  it('names what an unsupported signature lacks', async () => {
    const dir = await models.build('no-cache')
    const g = new GraphBuilder(path.join(dir, 'onnx'), 'model.onnx_data')
    const ids = g.input('input_ids', 'int64', ['batch', 'seq'])
    g.input('token_type_ids', 'int64', ['batch', 'seq'])
    g.op('Cast', [ids], { to: 1 }, { output: 'logits' })
    g.output('logits', 'float32', ['batch', 'seq'])
    await writeFile(path.join(dir, 'onnx', 'model.onnx'), g.finish('no-cache'))
    await assert.rejects(new Engine().load(dir, { providers: ['cpu'] }), {
      code: 'MODEL_UNSUPPORTED',
      message: /unknown inputs token_type_ids; no past_key_values inputs/,
    })
  })

  it('refuses a model too big for memory before loading it, judged by the shared estimate', async () => {
    await assert.rejects(new Engine().load(tiny, { providers: ['cpu'], memoryLimitBytes: 100_000 }), {
      code: 'MODEL_TOO_BIG',
      message: /needs about .* but .* is available/,
    })
    const summary = await inspectModelFolder(tiny)
    assert.ok(summary.valid)
    const variant = chooseVariant(summary.variants, 'cpu')
    const config = await readModelConfig(tiny)
    const { totalBytes } = estimateMemory(config, variant, {
      context: Math.min(config.contextLength, ESTIMATE_CONTEXT),
      provider: 'cpu',
      onnxFileBytes: (await stat(path.join(tiny, variant.file))).size,
    })
    await assert.rejects(new Engine().load(tiny, { providers: ['cpu'], memoryLimitBytes: totalBytes - 1 }), { code: 'MODEL_TOO_BIG' })
    await engineFor(tiny, { memoryLimitBytes: totalBytes })
  })

  it('refuses a prompt longer than the context', async () => {
    const dir = await models.build('short-context', { contextLength: 48 })
    const engine = await engineFor(dir)
    await assert.rejects(run(engine, CHAT), { code: 'CONTEXT_OVERFLOW', message: /beyond the model's context of 48/ })
    // The engine is unaffected: a prompt that fits still runs.
    const short = await run(engine, [{ role: 'user', content: 'Hi' }], { ...GREEDY, maxTokens: 4 })
    assert.equal(short.stats.generatedTokens, 4)
  })

  it('generates nothing without a model', async () => {
    await assert.rejects(run(new Engine(), CHAT), { code: 'MODEL_NOT_LOADED' })
  })
})

describe('Engine#load with a context length', () => {
  it('runs the model with the shorter context asked for, and states it', async () => {
    const engine = await engineFor(tiny, { contextLength: 48 })
    assert.equal(engine.info().model?.contextLength, 48)
    // The same prompt that fits the model's own 2048 tokens is refused at 48.
    await assert.rejects(run(engine, CHAT), { code: 'CONTEXT_OVERFLOW', message: /beyond the model's context of 48/ })
    const short = await run(engine, [{ role: 'user', content: 'Hi' }], { ...GREEDY, maxTokens: 4 })
    assert.equal(short.stats.generatedTokens, 4)
  })

  it('fits the prompt to the shorter context by the conversation policy', async () => {
    const engine = await engineFor(tiny, { contextLength: 48 })
    const long: ChatMessage[] = [
      { role: 'user', content: 'An old question that takes up a good part of the context window.' },
      { role: 'assistant', content: 'An old answer just as long as the question before it was.' },
      { role: 'user', content: 'Hi' },
    ]
    const result = await engine.generate({ messages: long, params: { ...GREEDY, maxTokens: 4 }, contextPolicy: 'drop-oldest' }, () => {}, () => false)
    assert.ok(result.stats.promptTokens <= 48 - 4, `${result.stats.promptTokens} prompt tokens`)
    assert.deepEqual(result.stats.droppedMessages, [0, 1])
  })

  it("keeps the model's own context when asked for a longer one", async () => {
    const engine = await engineFor(tiny, { contextLength: 1_000_000 })
    assert.equal(engine.info().model?.contextLength, 2048)
  })
})

describe('Engine#load with a KV cache type', () => {
  it('keeps a float32 export\'s cache in float16: half the bytes, the same greedy reply', async () => {
    const wide = await engineFor(tiny)
    const half = await engineFor(tiny, { kvDtype: 'float16' })
    assert.equal(wide.info().model?.kvDtype, 'float32')
    assert.equal(half.info().model?.kvDtype, 'float16')
    assert.equal(half.info().model?.kvUpdate, 'split')
    const [a, b] = [await run(wide, CHAT, GREEDY, 'c'), await run(half, CHAT, GREEDY, 'c')]
    assert.deepEqual(b.tokens, a.tokens)
    assert.equal(half.info().kvBytes * 2, wide.info().kvBytes)
    // The next turn reads the float16 cache back: it is reused, and the reply still matches.
    const next = [...CHAT, { role: 'assistant' as const, content: a.text }, { role: 'user' as const, content: 'Again.' }]
    const [c, d] = [await run(wide, next, GREEDY, 'c'), await run(half, next, GREEDY, 'c')]
    assert.ok(d.stats.reusedTokens > 0)
    assert.deepEqual(d.tokens, c.tokens)
  })

  it("keeps a float16 export's cache in float32 when asked", async () => {
    const dir = await models.build('kv16', { kv: 'float16' })
    const engine = await engineFor(dir, { kvDtype: 'float32' })
    assert.equal(engine.info().model?.kvDtype, 'float32')
    assert.equal((await run(engine, CHAT)).stats.generatedTokens, GREEDY.maxTokens)
  })

  it('keeps the cache in float16 under either in-place rewrite, the logits as with float32 but for rounding', async () => {
    for (const kvUpdate of ['split', 'append'] as const) {
      const open = (kvDtype?: 'float16') =>
        openSession(path.join(tiny, 'onnx', 'model.onnx'), { provider: 'cpu', threads: 1, contextLength: 64, kvHeads: 2, headDim: 16, vocab: 512, kvUpdate, ...(kvDtype ? { kvDtype } : {}) })
      const [wide, half] = [await open(), await open('float16')]
      try {
        assert.deepEqual([half.kvUpdate, half.sig.kvDtype], [kvUpdate, 'float16'])
        const [a, b] = [wide.emptyCache(), half.emptyCache()]
        await wide.forward(a, [1, 2, 3], { logits: 'last' })
        await half.forward(b, [1, 2, 3], { logits: 'last' })
        // The step after the prompt reads the cache each kept.
        const x = (await wide.forward(a, [4], { logits: 'last' })).slice()
        const y = await half.forward(b, [4], { logits: 'last' })
        const diff = Math.max(...x.map((v, i) => Math.abs(v - y[i]!)))
        assert.ok(diff > 0 && diff < 1e-2, `${kvUpdate}: logits differ by ${diff}`)
      } finally {
        await wide.release()
        await half.release()
      }
    }
  })

  it("keeps the export's type, and says why, where the graph is not updated in place", async () => {
    const session = await openSession(path.join(tiny, 'onnx', 'model.onnx'), {
      provider: 'cpu', threads: 1, contextLength: 64, kvHeads: 2, headDim: 16, vocab: 512, kvUpdate: 'copy', kvDtype: 'float16',
    })
    try {
      assert.equal(session.sig.kvDtype, 'float32')
      assert.ok(session.kvUpdateNotes.includes('cache kept in float32 as exported: float16 needs an in-place update'), session.kvUpdateNotes.join('; '))
    } finally {
      await session.release()
    }
  })
})
