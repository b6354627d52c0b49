import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createChatTokenizer, loadTokenizer } from '../../../src-main/engine/tokenizer.ts'
import { buildTokenizerFiles } from '../../../tools/model-builder/tokenizer.ts'
import { chatmlSources, llamaSources, phiSources, writeModelDir } from './fixtures.ts'

const NOW = new Date(2024, 6, 26)

describe('loadTokenizer', () => {
  it('reads a model folder and stops on every eos id plus the end-of-turn token', async () => {
    const files = buildTokenizerFiles({ vocabSize: 500 })
    const { dir, cleanup } = await writeModelDir({
      'tokenizer.json': files.tokenizerJson,
      'tokenizer_config.json': files.tokenizerConfig,
      'config.json': { bos_token_id: 1, eos_token_id: 2 },
      'generation_config.json': { eos_token_id: [0, 2] },
    })
    try {
      const tok = await loadTokenizer(dir)
      assert.equal(tok.vocabSize, 500)
      assert.deepEqual([...tok.eosIds].sort(), [0, 2])
      assert.equal(tok.endOfTurnId, files.specialTokens.imEnd)
      assert.equal(tok.bosId, files.specialTokens.bos)
    } finally {
      await cleanup()
    }
  })

  it('prefers chat_template.jinja over tokenizer_config.json', async () => {
    const files = buildTokenizerFiles({ vocabSize: 300 })
    const { dir, cleanup } = await writeModelDir({
      'tokenizer.json': files.tokenizerJson,
      'tokenizer_config.json': files.tokenizerConfig,
      'chat_template.jinja': "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}<|im_end|>{% endfor %}",
    })
    try {
      const tok = await loadTokenizer(dir)
      assert.equal(tok.renderChat([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }), '[user] Hi<|im_end|>')
    } finally {
      await cleanup()
    }
  })

  it('reads chat_template.json when there is no .jinja file', async () => {
    const files = buildTokenizerFiles({ vocabSize: 300 })
    const { dir, cleanup } = await writeModelDir({
      'tokenizer.json': files.tokenizerJson,
      'tokenizer_config.json': { ...files.tokenizerConfig, chat_template: undefined },
      'chat_template.json': { chat_template: '{{ messages[0].content }}!' },
    })
    try {
      const tok = await loadTokenizer(dir)
      assert.equal(tok.renderChat([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }), 'Hi!')
    } finally {
      await cleanup()
    }
  })

  it('names the missing or corrupt file', async () => {
    const files = buildTokenizerFiles({ vocabSize: 300 })
    const missing = await writeModelDir({ 'tokenizer_config.json': files.tokenizerConfig })
    const corrupt = await writeModelDir({ 'tokenizer.json': '{"model": ', 'tokenizer_config.json': files.tokenizerConfig })
    try {
      await assert.rejects(loadTokenizer(missing.dir), { code: 'MODEL_INVALID', message: /has no tokenizer\.json/ })
      await assert.rejects(loadTokenizer(corrupt.dir), { code: 'MODEL_INVALID', message: /tokenizer\.json .* is not valid JSON/ })
    } finally {
      await missing.cleanup()
      await corrupt.cleanup()
    }
  })

  it('refuses a tokenizer.json it cannot run', async () => {
    const { dir, cleanup } = await writeModelDir({ 'tokenizer.json': { model: { type: 'Nonsense' } } })
    try {
      await assert.rejects(loadTokenizer(dir), { code: 'MODEL_UNSUPPORTED' })
    } finally {
      await cleanup()
    }
  })
})

describe('ChatTokenizer#encodeChat', () => {
  it('encodes the template\'s BOS once, where encode() with special tokens adds it itself', () => {
    const src = llamaSources()
    const tok = createChatTokenizer(src)
    const bos = src.ids['<|begin_of_text|>']
    const ids = tok.encodeChat([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true, now: NOW })
    assert.equal(ids[0], bos)
    assert.equal(ids.filter((id) => id === bos).length, 1)
    assert.equal(tok.encode('Hi', { addSpecialTokens: true })[0], bos)
    assert.notEqual(tok.encode('Hi')[0], bos)
    assert.equal(ids.at(-1), tok.encode('\n\n').at(-1))
  })

  it('encodes special token text in the prompt as the special token ids', () => {
    const tok = createChatTokenizer(chatmlSources())
    const ids = tok.encodeChat([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true })
    assert.equal(ids.filter((id) => id === 1).length, 3, 'three <|im_start|>')
    assert.equal(ids.filter((id) => id === 2).length, 2, 'two <|im_end|>')
    assert.equal(tok.decode(ids, { skipSpecialTokens: false }), tok.renderChat([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }))
  })
})

describe('ChatTokenizer eos and end of turn', () => {
  it('finds <|eot_id|> for Llama 3 and keeps every listed eos id', () => {
    const src = llamaSources()
    const tok = createChatTokenizer(src)
    assert.equal(tok.endOfTurnId, src.ids['<|eot_id|>'])
    assert.deepEqual(
      [...tok.eosIds].sort(),
      [src.ids['<|end_of_text|>'], src.ids['<|eom_id|>'], src.ids['<|eot_id|>']].sort(),
    )
    assert.equal(tok.bosId, src.ids['<|begin_of_text|>'])
  })

  it('finds <|end|> for Phi-3.5 and adds tokenizer_config\'s eos_token', () => {
    const src = phiSources()
    const tok = createChatTokenizer({ ...src, generationConfig: {} })
    assert.equal(tok.endOfTurnId, src.ids['<|end|>'])
    assert.deepEqual([...tok.eosIds].sort(), [src.ids['<|end|>'], src.ids['<|endoftext|>']].sort())
  })
})

describe('ChatTokenizer#tokenBytes', () => {
  it('concatenates to the UTF-8 of decode() for every kind of tokenizer', () => {
    const text = 'Hello the world, 日本語 👍🏽 e\u0301 and more!'
    for (const tok of [createChatTokenizer(chatmlSources(3000)), createChatTokenizer(llamaSources()), createChatTokenizer(phiSources())]) {
      const ids = tok.encode(text)
      const bytes = Buffer.concat(ids.map((id) => tok.tokenBytes(id)))
      const decoded = bytes.toString('utf8')
      assert.equal(tok.stripsLeadingSpace ? decoded.replace(/^ /, '') : decoded, tok.decode(ids))
    }
  })

  it('gives special tokens no bytes', () => {
    const tok = createChatTokenizer(chatmlSources())
    assert.equal(tok.isSpecial(2), true)
    assert.equal(tok.tokenBytes(2).length, 0)
    assert.equal(tok.isSpecial(100), false)
  })
})
