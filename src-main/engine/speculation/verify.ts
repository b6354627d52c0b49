// The speculative sampling rule (Leviathan et al. 2023, Chen et al. 2023): accept or replace one
// drafted token so that the token kept is distributed exactly as the model's own sampling would be.
//
// A draft x drawn from q is kept with probability min(1, p(x) / q(x)); otherwise a token is drawn
// from norm(max(0, p - q)). Kept or replaced, the token's distribution is p: the acceptance gives
// min(p, q), the residual the rest. A lookup draft is a point mass on x (q(x) = 1), so x is kept
// with probability p(x) and the residual is p without x. Greedy decoding does not come here: the
// model's argmax either equals the draft or replaces it.

import { AppError } from '../../../src-shared/errors.ts'
import { sampleFrom, type Rng } from '../sampler.ts'

export interface Verdict {
  /** The draft is kept; else `token` is the model's replacement, and drafts after it are void. */
  accepted: boolean
  token: number
}

/**
 * Judges one drafted token. Draws exactly one number from `rng` for the acceptance and, on
 * rejection, one more for the replacement, so a seeded reply is reproducible.
 * p: [vocab] the model's distribution at the draft's position (probabilities()).
 * q: [vocab] the distribution `draft` was sampled from; null for a deterministic draft.
 * residual: [vocab] scratch.
 */
export function verifyDraft(p: Float32Array, draft: number, q: Float32Array | null, rng: Rng, residual: Float32Array): Verdict {
  const vocab = p.length
  if (residual.length !== vocab || (q && q.length !== vocab)) {
    throw new AppError('INTERNAL', `verifyDraft() needs p, q and residual over one vocab (${vocab}).`)
  }
  const px = p[draft] ?? 0
  const qx = q ? (q[draft] ?? 0) : 1
  // u < p / q without dividing: p(x) = 0 never accepts; q(x) = 0 (x could not have been drawn)
  // accepts wherever p(x) > 0.
  if (rng.next() * qx < px) return { accepted: true, token: draft }

  let mass = 0
  for (let i = 0; i < vocab; i++) {
    const r = (p[i] as number) - (q ? (q[i] as number) : i === draft ? 1 : 0)
    residual[i] = r > 0 ? r : 0
    if (r > 0) mass += r
  }
  // The residual is empty only where p equals q, where rejection happens by rounding alone.
  return { accepted: false, token: sampleFrom(mass > 0 ? residual : p, rng) }
}
