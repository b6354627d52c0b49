// Context overflow: fit a conversation into the model's context by a policy, and say what was dropped.

import { AppError } from '../../src-shared/errors.ts'
import type { ContextPolicy, PromptMessage } from '../../src-shared/types.ts'

export interface FitResult {
  tokens: number[]
  /** Indices into the request's messages that were left out, ascending. */
  droppedMessages: number[]
}

/**
 * Tokens of `messages` leaving `reserve` tokens of the context for the reply.
 * 'stop' refuses; 'drop-oldest' drops whole turns (a user message and the replies after it) from
 * the oldest on; 'truncate-middle' keeps the first turn and drops from the second on. System
 * messages and the last turn are always kept. Drops as few turns as fit (binary search: fewer
 * dropped turns never make the prompt shorter).
 */
export function fitContext<M extends PromptMessage>(
  messages: readonly M[],
  encode: (messages: readonly M[]) => number[],
  contextLength: number,
  reserve: number,
  policy: ContextPolicy,
): FitResult {
  const limit = contextLength - reserve
  const tokens = encode(messages)
  if (tokens.length <= limit) return { tokens, droppedMessages: [] }
  const figures = { promptTokens: tokens.length, contextLength }
  const overflow = `The conversation is ${tokens.length} tokens and the reply needs room for ${reserve} more, beyond the model's context of ${contextLength} tokens.`
  if (policy === 'stop') {
    throw new AppError(
      'CONTEXT_OVERFLOW',
      `${overflow} Start a new conversation, shorten this one, or let Hearth drop old turns.`,
      figures,
    )
  }

  const turns = turnsOf(messages)
  // The last turn holds the message being answered; 'truncate-middle' also keeps the first.
  const droppable = turns.slice(policy === 'truncate-middle' ? 1 : 0, -1)
  const tried = new Map<number, FitResult>()
  const attempt = (k: number): FitResult => {
    let fit = tried.get(k)
    if (!fit) {
      const dropped = new Set(droppable.slice(0, k).flat())
      fit = {
        tokens: encode(messages.filter((_, i) => !dropped.has(i))),
        droppedMessages: [...dropped].sort((a, b) => a - b),
      }
      tried.set(k, fit)
    }
    return fit
  }
  if (attempt(droppable.length).tokens.length > limit) {
    throw new AppError(
      'CONTEXT_OVERFLOW',
      `${overflow} Even with every earlier turn dropped, the latest message does not fit: shorten it or lower the reply length.`,
      figures,
    )
  }
  // Smallest k in [1, droppable.length] that fits; k = droppable.length is known to fit.
  let lo = 1
  let hi = droppable.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (attempt(mid).tokens.length <= limit) hi = mid
    else lo = mid + 1
  }
  return attempt(lo)
}

/** Groups non-system message indices into turns: a user message and what follows until the next. */
function turnsOf(messages: readonly PromptMessage[]): number[][] {
  const turns: number[][] = []
  messages.forEach((m, i) => {
    if (m.role === 'system') return
    if (m.role === 'user' || turns.length === 0) turns.push([i])
    else turns[turns.length - 1]!.push(i)
  })
  return turns
}
