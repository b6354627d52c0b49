import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compileChatTemplate, pickTemplate, strftime } from '../../../src-main/engine/chat-template.ts'
import { createChatTokenizer } from '../../../src-main/engine/tokenizer.ts'
import type { ChatMessage } from '../../../src-shared/types.ts'
import { NO_SYSTEM_TEMPLATE, QWEN25_TEMPLATE, chatmlSources, llamaSources, phiSources } from './fixtures.ts'

const NOW = new Date(2024, 6, 26, 9, 5)
const CHAT: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello.' },
  { role: 'user', content: 'Name a colour.' },
]
const USER_ONLY: ChatMessage[] = [{ role: 'user', content: 'Hi' }]
const prompt = { addGenerationPrompt: true, now: NOW }

describe('ChatTokenizer#renderChat', () => {
  it('renders the SmolLM2 ChatML template with its default system prompt only when none is given', () => {
    const tok = createChatTokenizer(chatmlSources())
    assert.equal(
      tok.renderChat(USER_ONLY, prompt),
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    )
    assert.equal(
      tok.renderChat(CHAT, { addGenerationPrompt: false }),
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n' +
        '<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nName a colour.<|im_end|>\n',
    )
  })

  it('renders the Qwen2.5 template exactly, default system prompt included', () => {
    const tok = createChatTokenizer(chatmlSources(400, QWEN25_TEMPLATE))
    assert.equal(
      tok.renderChat(USER_ONLY, prompt),
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    )
    assert.equal(
      tok.renderChat(CHAT, prompt),
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n' +
        '<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n',
    )
  })

  it('renders the Llama 3.2 template exactly, with BOS and the date from strftime_now', () => {
    const tok = createChatTokenizer(llamaSources())
    assert.equal(
      tok.renderChat(CHAT, prompt),
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' +
        'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are terse.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nName a colour.<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    )
    assert.match(tok.renderChat(USER_ONLY, { addGenerationPrompt: true, now: new Date(2025, 0, 5) }), /Today Date: 05 Jan 2025\n\n<\|eot_id\|>/)
  })

  it('renders the Phi-3.5 template exactly, with eos_token closing a finished chat', () => {
    const tok = createChatTokenizer(phiSources())
    assert.equal(
      tok.renderChat(CHAT, prompt),
      '<|system|>\nYou are terse.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n' +
        '<|user|>\nName a colour.<|end|>\n<|assistant|>\n',
    )
    assert.equal(tok.renderChat(USER_ONLY, { addGenerationPrompt: false }), '<|user|>\nHi<|end|>\n<|endoftext|>')
  })

  it('folds the system prompt into the first user turn when the template refuses a system role', () => {
    const tok = createChatTokenizer(chatmlSources(400, NO_SYSTEM_TEMPLATE))
    assert.equal(
      tok.renderChat(CHAT.slice(0, 2), prompt),
      '<turn>user\nYou are terse.\n\nHi<end_of_turn>\n<turn>assistant\n',
    )
  })

  it('reports what the template refused as a bad request', () => {
    const tok = createChatTokenizer(chatmlSources(400, "{{ raise_exception('Conversation roles must alternate') }}"))
    assert.throws(
      () => tok.renderChat(USER_ONLY, prompt),
      (err: { code?: string; message?: string }) =>
        err.code === 'BAD_REQUEST' && /Conversation roles must alternate/.test(err.message ?? ''),
    )
  })

  it('says the model has no chat template when it has none', () => {
    const sources = chatmlSources()
    const { chat_template: _, ...config } = sources.tokenizerConfig as Record<string, unknown>
    const tok = createChatTokenizer({ ...sources, tokenizerConfig: config })
    assert.equal(tok.endOfTurnId, null)
    assert.throws(() => tok.renderChat(USER_ONLY, prompt), { code: 'MODEL_UNSUPPORTED', message: /no chat template/ })
  })

  it('refuses a template it cannot parse when the tokenizer is created', () => {
    assert.throws(() => createChatTokenizer(chatmlSources(400, '{% for m in messages %}')), { code: 'MODEL_UNSUPPORTED' })
  })
})

describe('pickTemplate', () => {
  it("takes a string as is and the 'default' entry of a named list", () => {
    assert.equal(pickTemplate('x'), 'x')
    assert.equal(
      pickTemplate([
        { name: 'tool_use', template: 't' },
        { name: 'default', template: 'd' },
      ]),
      'd',
    )
    assert.equal(pickTemplate([{ name: 'rag', template: 'r' }]), 'r')
    assert.equal(pickTemplate(undefined), null)
  })
})

describe('strftime', () => {
  it('formats as Python does in the C locale', () => {
    assert.equal(strftime(NOW, '%d %b %Y'), '26 Jul 2024')
    assert.equal(strftime(NOW, '%A %B %m/%d %H:%M:%S 100%%'), 'Friday July 07/26 09:05:00 100%')
  })
})

describe('compileChatTemplate', () => {
  it('gives templates range, namespace and the special token strings', () => {
    const t = compileChatTemplate(
      '{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ bos_token }}{{ ns.n }}{{ eos_token }}',
      { bos_token: '<s>', eos_token: '</s>', pad_token: '', unk_token: '' },
    )
    assert.equal(t.render([], { addGenerationPrompt: false }), '<s>3</s>')
  })
})
