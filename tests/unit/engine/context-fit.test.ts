// Tests for fitContext: each policy, what it drops, and that it says so.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fitContext } from '../../../src-main/engine/context-fit.ts'
import type { ChatMessage } from '../../../src-shared/types.ts'

// One token per character of content, plus 2 per message for its header: easy to count.
const encode = (messages: readonly ChatMessage[]): number[] =>
  messages.flatMap((m) => [0, 0, ...Array.from(m.content, (c) => c.charCodeAt(0))])

const CHAT: ChatMessage[] = [
  { role: 'system', content: 'ssss' }, // 0: 6 tokens
  { role: 'user', content: 'u1u1u1u1' }, // 1: 10
  { role: 'assistant', content: 'a1a1a1a1' }, // 2: 10
  { role: 'user', content: 'u2u2u2u2' }, // 3: 10
  { role: 'assistant', content: 'a2a2a2a2' }, // 4: 10
  { role: 'user', content: 'u3u3u3u3' }, // 5: 10
  { role: 'assistant', content: 'a3a3a3a3' }, // 6: 10
  { role: 'user', content: 'u4u4' }, // 7: 6
]
// 72 tokens in all.

describe('fitContext', () => {
  it('leaves a conversation that fits alone', () => {
    const fit = fitContext(CHAT, encode, 100, 28, 'stop')
    assert.equal(fit.tokens.length, 72)
    assert.deepEqual(fit.droppedMessages, [])
  })

  it("refuses with the sizes under 'stop'", () => {
    assert.throws(() => fitContext(CHAT, encode, 80, 20, 'stop'), {
      code: 'CONTEXT_OVERFLOW',
      message: /72 tokens and the reply needs room for 20 more, beyond the model's context of 80/,
      overflow: { promptTokens: 72, contextLength: 80 },
    })
  })

  it("drops the fewest oldest whole turns under 'drop-oldest', keeping the system prompt", () => {
    // Needs 72 + 20 - 80 = 12 tokens gone: one turn (user 1 + its reply) is 20.
    assert.deepEqual(fitContext(CHAT, encode, 80, 20, 'drop-oldest').droppedMessages, [1, 2])
    // 32 tokens gone: two turns.
    assert.deepEqual(fitContext(CHAT, encode, 60, 20, 'drop-oldest').droppedMessages, [1, 2, 3, 4])
    const fit = fitContext(CHAT, encode, 60, 20, 'drop-oldest')
    assert.deepEqual(fit.tokens, encode([CHAT[0]!, CHAT[5]!, CHAT[6]!, CHAT[7]!]))
  })

  it("keeps the first turn and drops from the second under 'truncate-middle'", () => {
    assert.deepEqual(fitContext(CHAT, encode, 80, 20, 'truncate-middle').droppedMessages, [3, 4])
    assert.deepEqual(fitContext(CHAT, encode, 60, 20, 'truncate-middle').droppedMessages, [3, 4, 5, 6])
  })

  it('refuses when even the last message and the reply do not fit', () => {
    assert.throws(() => fitContext(CHAT, encode, 20, 10, 'drop-oldest'), {
      code: 'CONTEXT_OVERFLOW',
      message: /Even with every earlier turn dropped/,
      overflow: { promptTokens: 72, contextLength: 20 },
    })
  })
})
