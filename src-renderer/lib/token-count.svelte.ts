// The composer's live count of the message being written: asked of main once typing pauses.

import type { NewConversation, TokenCount } from '../../src-shared/types.ts'
import { api } from './api.ts'
import { formatCount } from './format.ts'

/** Quiet after the last keystroke before main is asked: one count per pause, not per key. */
const DEBOUNCE_MS = 250

class TokenCountState {
  count = $state.raw<TokenCount | null>(null)
  #timer: ReturnType<typeof setTimeout> | undefined
  /** Only the answer to the newest request may land. */
  #ticket = 0

  /** "≈ 1,234 tokens · 3,100 left": ≈ when estimated; null while there is nothing to count. */
  get label(): string | null {
    const count = this.count
    if (!count) return null
    const tokens = `${count.estimated ? '≈ ' : ''}${formatCount(count.tokens)} ${count.tokens === 1 ? 'token' : 'tokens'}`
    if (count.contextLeft === null) return tokens
    return count.contextLeft >= 0 ? `${tokens} · ${formatCount(count.contextLeft)} left` : `${tokens} · ${formatCount(-count.contextLeft)} over the context`
  }

  /** Counts the message in `target` (a conversation's id, or a draft's settings) once typing pauses. */
  request(target: string | NewConversation, text: string, documentIds: string[]): void {
    clearTimeout(this.#timer)
    const ticket = ++this.#ticket
    if (text.trim() === '' && documentIds.length === 0) {
      this.count = null
      return
    }
    this.#timer = setTimeout(() => {
      api.countTokens(target, text, documentIds).then(
        (count) => {
          if (ticket === this.#ticket) this.count = count
        },
        // A count is a hint beside the composer: one that fails (the chat just deleted) shows none.
        () => {
          if (ticket === this.#ticket) this.count = null
        },
      )
    }, DEBOUNCE_MS)
  }
}

export const tokenCount = new TokenCountState()
