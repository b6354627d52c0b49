import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createChatTokenizer } from '../../../src-main/engine/tokenizer.ts'
import { buildTokenizerFiles } from '../../../tools/model-builder/tokenizer.ts'

interface BpeJson {
  model: { vocab: Record<string, number>; merges: [string, string][] }
  added_tokens: { id: number; content: string; special: boolean }[]
}

const TEXT = 'The capital of France is Paris. Ünïcödé, 日本語 and 👨‍👩‍👧 too!'

describe('buildTokenizerFiles', () => {
  it('makes exactly vocabSize ids with the specials first and every merge buildable', () => {
    for (const vocabSize of [259, 300, 4096]) {
      const files = buildTokenizerFiles({ vocabSize, seed: 1 })
      const json = files.tokenizerJson as BpeJson
      const ids = Object.values(json.model.vocab).sort((a, b) => a - b)
      assert.deepEqual(ids, Array.from({ length: vocabSize }, (_, i) => i))
      assert.deepEqual(
        json.added_tokens.map((t) => [t.id, t.content, t.special]),
        [
          [0, '<|endoftext|>', true],
          [1, '<|im_start|>', true],
          [2, '<|im_end|>', true],
        ],
      )
      assert.equal(json.model.merges.length, vocabSize - 259)
      for (const [a, b] of json.model.merges) {
        assert.ok(a in json.model.vocab && b in json.model.vocab && a + b in json.model.vocab)
      }
      assert.deepEqual(files.specialTokens, { endOfText: 0, bos: 1, eos: 2, imStart: 1, imEnd: 2, pad: 2 })
    }
  })

  it('round-trips any text and encodes English tighter as the vocab grows', () => {
    const lengths = [259, 1000, 8000].map((vocabSize) => {
      const tok = createChatTokenizer(buildTokenizerFiles({ vocabSize }))
      const ids = tok.encode(TEXT)
      assert.equal(tok.decode(ids), TEXT)
      assert.equal(tok.vocabSize, vocabSize)
      return ids.length
    })
    assert.equal(lengths[0], new TextEncoder().encode(TEXT).length, 'no merges: one token per byte')
    assert.ok((lengths[1] as number) < (lengths[0] as number) * 0.8, `lengths ${lengths}`)
  })

  it('builds the Qwen2.5 vocab size, 151936 ids', () => {
    const files = buildTokenizerFiles({ vocabSize: 151_936, seed: 5 })
    const tok = createChatTokenizer(files)
    assert.equal(tok.vocabSize, 151_936)
    assert.equal(tok.decode(tok.encode(TEXT)), TEXT)
  })

  it('is a pure function of its options', () => {
    const a = JSON.stringify(buildTokenizerFiles({ vocabSize: 2000, seed: 9 }))
    assert.equal(JSON.stringify(buildTokenizerFiles({ vocabSize: 2000, seed: 9 })), a)
    assert.notEqual(JSON.stringify(buildTokenizerFiles({ vocabSize: 2000, seed: 10 })), a)
  })

  it('refuses a vocab too small for the specials and the 256 bytes', () => {
    assert.throws(() => buildTokenizerFiles({ vocabSize: 258 }), /at least 259/)
    assert.throws(() => buildTokenizerFiles({ vocabSize: 300.5 }), /integer/)
  })

  it('writes a ChatML tokenizer_config with eos <|im_end|> and a chat template', () => {
    const files = buildTokenizerFiles({ vocabSize: 300 })
    const config = files.tokenizerConfig as Record<string, unknown>
    assert.equal(config.eos_token, '<|im_end|>')
    assert.equal(config.bos_token, '<|im_start|>')
    assert.match(String(config.chat_template), /<\|im_start\|>/)
    const tok = createChatTokenizer(files)
    assert.equal(tok.endOfTurnId, 2)
  })
})
