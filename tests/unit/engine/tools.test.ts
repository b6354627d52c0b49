// Tool calling in the model's format: the format read from the chat template, calls parsed from
// replies and held out of the stream, and, on a random-weight model, calls forced by tool_choice.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Engine } from '../../../src-main/engine/engine.ts'
import { Grammars } from '../../../src-main/engine/grammar/constraint.ts'
import { loadTokenizer } from '../../../src-main/engine/tokenizer.ts'
import { parseToolCalls, toolFormatOf, ToolTextFilter } from '../../../src-main/engine/tools.ts'
import type { GenerateRequest, GenerateResult } from '../../../src-main/model-format/protocol.ts'
import { CHATML_TEMPLATE } from '../../../tools/model-builder/tokenizer.ts'
import { GREEDY, tempModels } from './fixtures.ts'
import { argumentsFit, TOOLS, TOOLS_TEMPLATE, withToolsTemplate } from './fixtures-tools.ts'

const ASK = [{ role: 'user' as const, content: 'What is the weather in Oslo?' }]

describe('tool calls in the model format', () => {
  it('reads the format from the chat template', () => {
    assert.equal(toolFormatOf(TOOLS_TEMPLATE), 'hermes')
    assert.equal(toolFormatOf('{% if tools %}{{ tools | tojson }}{% endif %}<|python_tag|>{{ messages }}'), 'llama3-json')
    assert.equal(toolFormatOf(CHATML_TEMPLATE), null)
    assert.equal(toolFormatOf(null), null)
  })

  it('parses Hermes calls, keeping the text before them, and leaves what only looks like a call as text', () => {
    const text = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "C"}}\n</tool_call>\n<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 4}}'
    const { content, calls } = parseToolCalls(text, 'hermes', TOOLS)
    assert.equal(content, 'Let me check.\n')
    assert.deepEqual(calls.map((c) => [c.name, JSON.parse(c.arguments)]), [['get_weather', { city: 'Oslo', unit: 'C' }], ['add', { a: 1, b: 4 }]])
    assert.ok(calls.every((c) => /^call_[0-9a-f]{24}$/.test(c.id)) && calls[0]!.id !== calls[1]!.id)
    for (const notACall of ['<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>', '<tool_call>not json</tool_call>', 'no call here']) {
      assert.deepEqual(parseToolCalls(notACall, 'hermes', TOOLS), { content: notACall, calls: [] })
    }
  })

  it("parses a Llama 3 reply that is one JSON call, with its parameters as the arguments", () => {
    const { calls } = parseToolCalls('<|python_tag|>{"name": "add", "parameters": {"a": 2, "b": 5}}', 'llama3-json', TOOLS)
    assert.deepEqual(calls.map((c) => [c.name, c.arguments]), [['add', '{"a":2,"b":5}']])
    assert.equal(parseToolCalls('{"answer": 3}', 'llama3-json', TOOLS).calls.length, 0)
  })

  it('streams text up to a call, holding back a tag split across pieces, and releases what was no call', () => {
    const sent: string[] = []
    const filter = new ToolTextFilter('hermes', (t) => sent.push(t))
    const pieces = ['Sure', ', one moment <to', 'ol_', 'call>\n{"name": "add", "arguments": {"a": 1, "b": 4}}', '\n</tool_call>']
    for (const p of pieces) filter.push(p)
    const text = pieces.join('')
    filter.end(parseToolCalls(text, 'hermes', TOOLS).content)
    assert.equal(sent.join(''), 'Sure, one moment ')

    const plain: string[] = []
    const other = new ToolTextFilter('hermes', (t) => plain.push(t))
    for (const p of ['a <', 'b> c <tool', '_c']) other.push(p)
    assert.equal(plain.join(''), 'a <b> c ')
    other.end('a <b> c <tool_c')
    assert.equal(plain.join(''), 'a <b> c <tool_c')
  })
})

describe('tool calling on a random-weight model', () => {
  let models: Awaited<ReturnType<typeof tempModels>>
  let engine: Engine
  let dir: string

  before(async () => {
    models = await tempModels('tools')
    dir = await withToolsTemplate(await models.build('tiny'))
    engine = new Engine()
    await engine.load(dir, { providers: ['cpu'], threads: 1 })
  })
  after(async () => {
    await engine.unload()
    await models.remove()
  })

  const ask = (request: Partial<GenerateRequest>, streamed: string[] = []): Promise<GenerateResult> =>
    engine.generate({ messages: ASK, params: { ...GREEDY, maxTokens: 400 }, tools: TOOLS, ...request }, (t) => streamed.push(t), () => false)

  it("forces one call with tool_choice 'required', its arguments kept to the tool's schema, streaming no text", async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const streamed: string[] = []
      const result = await ask({ toolChoice: 'required', params: { ...GREEDY, temperature: 1.2, seed, maxTokens: 400 } }, streamed)
      assert.equal(result.toolCalls?.length, 1, result.text)
      const [call] = result.toolCalls!
      assert.ok(argumentsFit(call!.name, call!.arguments), `${call!.name} ${call!.arguments}`)
      assert.deepEqual(streamed, [])
      assert.equal(result.text, '')
    }
  })

  it('forces the named function, and renders none with tool_choice none', async () => {
    const named = await ask({ toolChoice: { name: 'add' } })
    assert.deepEqual(named.toolCalls?.map((c) => c.name), ['add'])
    assert.ok(argumentsFit('add', named.toolCalls![0]!.arguments))
    const none = await ask({ toolChoice: 'none', params: { ...GREEDY, maxTokens: 4 } })
    const auto = await ask({ params: { ...GREEDY, maxTokens: 4 } })
    assert.ok(auto.stats.promptTokens > none.stats.promptTokens + 50, `${auto.stats.promptTokens} with the tools, ${none.stats.promptTokens} without`)
    assert.equal(none.toolCalls, undefined)
    await assert.rejects(ask({ toolChoice: { name: 'missing' } }), { code: 'BAD_REQUEST' })
  })

  it("under tool_choice auto, keeps a call the model opens to one of the tools' schemas, and leaves other text free", async () => {
    const tokenizer = await loadTokenizer(dir)
    const grammars = new Grammars(tokenizer, tokenizer.vocabSize)
    let seed = 11
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let round = 0; round < 4; round++) {
      const constraint = await grammars.toolCalls(TOOLS)
      // Free text first: anything goes, the words chosen here included.
      let text = ''
      for (const id of tokenizer.encode(`Let me look ${round}. <tool_call>`)) {
        constraint.accept(id)
        text += tokenizer.decode([id])
      }
      // Then random logits, masked: whatever they favour, the call must come out whole and valid.
      for (let step = 0; step < 300 && !text.includes('</tool_call>'); step++) {
        const logits = Float32Array.from({ length: tokenizer.vocabSize }, random)
        await constraint.mask(logits)
        const id = logits.indexOf(Math.max(...logits))
        constraint.accept(id)
        text += tokenizer.decode([id], { skipSpecialTokens: false })
      }
      constraint.dispose()
      const { content, calls } = parseToolCalls(text, 'hermes', TOOLS)
      assert.equal(content, `Let me look ${round}. `)
      assert.equal(calls.length, 1, text)
      assert.ok(argumentsFit(calls[0]!.name, calls[0]!.arguments), text)
    }
    grammars.dispose()
  })

  it("renders a call and its result in the history the template's way", async () => {
    const tokenizer = await loadTokenizer(dir)
    const text = tokenizer.renderChat(
      [
        ...ASK,
        { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo","unit":"C"}' }] },
        { role: 'tool', content: '{"temperature": 4}', toolCallId: 'call_1' },
      ],
      { addGenerationPrompt: true, tools: TOOLS },
    )
    assert.match(text, /<tool_call>\n\{"name": "get_weather", "arguments": \{"city": ?"Oslo", ?"unit": ?"C"\}\}\n<\/tool_call>/)
    assert.match(text, /<tool_response>\n\{"temperature": 4\}\n<\/tool_response>/)
    assert.match(text, /"name": ?"add"/)
  })

  it('forces a call in the Llama 3 format too: the reply is the JSON call, its parameters the arguments', async () => {
    const llamaDir = await models.build('llama-style')
    await writeFile(
      path.join(llamaDir, 'chat_template.jinja'),
      '{%- if tools %}<|im_start|>system\nRespond with a JSON for a function call: {"name": function name, "parameters": dictionary of argument name and its value}.\n' +
        '{% for t in tools %}{{ t | tojson }}\n{% endfor %}<|im_end|>\n{% endif %}' +
        "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
    )
    const llama = new Engine()
    await llama.load(llamaDir, { providers: ['cpu'], threads: 1 })
    try {
      for (const toolChoice of ['required', { name: 'get_weather' }] as const) {
        const result = await llama.generate({ messages: ASK, params: { ...GREEDY, maxTokens: 400 }, tools: TOOLS, toolChoice }, () => {}, () => false)
        assert.equal(result.toolCalls?.length, 1, result.text)
        assert.ok(argumentsFit(result.toolCalls![0]!.name, result.toolCalls![0]!.arguments), result.toolCalls![0]!.arguments)
        if (typeof toolChoice === 'object') assert.equal(result.toolCalls![0]!.name, 'get_weather')
      }
    } finally {
      await llama.unload()
    }
  })

  it("refuses tools for a model whose template renders none", async () => {
    const plain = new Engine()
    await plain.load(await models.build('plain'), { providers: ['cpu'], threads: 1 })
    try {
      await assert.rejects(plain.generate({ messages: ASK, params: GREEDY, tools: TOOLS }, () => {}, () => false), { code: 'MODEL_UNSUPPORTED' })
      assert.equal((await plain.generate({ messages: ASK, params: GREEDY, tools: TOOLS, toolChoice: 'none' }, () => {}, () => false)).toolCalls, undefined)
    } finally {
      await plain.unload()
    }
  })
})
