// How well a model predicts a text: the mean negative log-likelihood of each token given those
// before it, and its exponent, the perplexity. A quality figure for conversions and engine changes.

import type { ModelSession } from './session.ts'

export interface Perplexity {
  /** Tokens scored: every token but the first, which nothing predicts. */
  scored: number
  /** Mean negative log-likelihood, nats per token. */
  nll: number
  perplexity: number
}

/** Scores `tokens` (at most the session's context) in passes of `chunk` over one growing cache. */
export async function perplexity(session: ModelSession, tokens: readonly number[], chunk = 128): Promise<Perplexity> {
  if (tokens.length < 2) throw new Error('perplexity needs at least two tokens')
  const kv = session.emptyCache()
  const vocab = session.vocab
  let total = 0
  try {
    session.reserve(kv, tokens.length)
    for (let start = 0; start < tokens.length - 1; start += chunk) {
      // Position i's logits predict token i + 1: the last token is only ever a target.
      const part = tokens.slice(start, Math.min(start + chunk, tokens.length - 1))
      const logits = await session.forward(kv, part, { logits: 'all' })
      for (let i = 0; i < part.length; i++) {
        const row = logits.subarray(i * vocab, (i + 1) * vocab)
        total += logSumExp(row) - row[tokens[start + i + 1]!]!
      }
    }
  } finally {
    kv.dispose()
  }
  const scored = tokens.length - 1
  return { scored, nll: total / scored, perplexity: Math.exp(total / scored) }
}

function logSumExp(row: Float32Array): number {
  let max = -Infinity
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!
  let sum = 0
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max)
  return max + Math.log(sum)
}
