// The order a session tries its in-place rewrites in at load: each row's options and what became
// of each attempt, against the exact attempts made.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { nextAttempt, type Failure, type Outcome, type PlanOptions, type Tried } from '../../../src-main/engine/load-plan.ts'

/**
 * What became of an attempt: 'ok' (the row ends there), 'refused' (by the rewrite), or how the
 * rewritten graph failed ('load', 'run', 'differs'), with '+fused' when the rewrite fused
 * something and '+folded' when it folded repeat_kv away.
 */
type Said = string

function outcome(said: Said): Outcome {
  const [what, ...flags] = said.split(' ')
  if (what === 'refused') return { refused: true }
  return { refused: false, failed: what as Failure, fused: flags.includes('+fused'), folded: flags.includes('+folded') ? 2 : 0 }
}

/** The attempts made, as "kind[ fold][ fuse]", until 'ok' or the plan runs out. */
function attempts(opts: PlanOptions, outcomes: Said[]): string[] {
  const history: Tried[] = []
  const tried: string[] = []
  for (const said of outcomes) {
    const a = nextAttempt(opts, history)
    assert.ok(a, `no attempt left for "${said}" after ${tried.join(', ')}`)
    tried.push(`${a.kind}${a.fold ? ' fold' : ''}${a.fuse ? ' fuse' : ''}`)
    if (said === 'ok') return tried
    history.push({ attempt: a, outcome: outcome(said) })
  }
  assert.equal(nextAttempt(opts, history), null, `attempts left after ${tried.join(', ')}`)
  return tried
}

const ROWS: [string, PlanOptions, Said[], string[]][] = [
  ['the first attempt is split with the fold, fused', { fuse: true }, ['ok'], ['split fold fuse']],
  ['a refusal with the fold drops the unfolded split: it would be refused alike', { kvUpdate: 'auto', fuse: true }, ['refused', 'ok'], ['split fold fuse', 'append fuse']],
  [
    'folding nothing drops the unfolded split; each fused failure is retried unfused; failing alike unfused, append still fuses',
    { fuse: true },
    ['differs +fused', 'differs', 'differs +fused', 'differs'],
    ['split fold fuse', 'split fold', 'append fuse', 'append'],
  ],
  ['a graph that fails on several new tokens over a cache ends with append, still fused', { fuse: true }, ['run +fused', 'run', 'ok'], ['split fold fuse', 'split fold', 'append fuse']],
  [
    'an unfused retry that fails differently blames the fusion: later attempts are unfused',
    { fuse: true },
    ['load +fused +folded', 'differs +folded', 'differs', 'ok'],
    ['split fold fuse', 'split fold', 'split', 'append'],
  ],
  [
    'an unfused retry that fails alike clears the fusion: later attempts still fuse',
    { fuse: true },
    ['load +fused +folded', 'load +folded', 'ok'],
    ['split fold fuse', 'split fold', 'split fuse'],
  ],
  [
    'the unfolded split, fused, is retried unfused too; its retry failing differently unfuses append',
    { fuse: true },
    ['differs +fused +folded', 'differs +folded', 'run +fused', 'differs', 'ok'],
    ['split fold fuse', 'split fold', 'split fuse', 'split', 'append'],
  ],
  [
    'a refused unfused retry of the folded split drops the unfolded split',
    { fuse: true },
    ['load +fused +folded', 'refused', 'ok'],
    ['split fold fuse', 'split fold', 'append fuse'],
  ],
  ['fusion asked for but nothing fused: a failure is not retried unfused', { foldRepeatKv: false, fuse: true }, ['load', 'ok'], ['split fuse', 'append fuse']],
  ['without the fold, split and append, each refused', { foldRepeatKv: false, fuse: true }, ['refused', 'refused'], ['split fuse', 'append fuse']],
  ['without the fold, a fused failure retried unfused and failing differently unfuses append', { foldRepeatKv: false, fuse: true }, ['run +fused', 'differs', 'ok'], ['split fuse', 'split', 'append']],
  ['unfused, a split that folded and failed is tried unfolded, then append', { fuse: false }, ['differs +folded', 'differs', 'differs'], ['split fold', 'split', 'append']],
  ['split only, refused with the fold: nothing else is tried', { kvUpdate: 'split', fuse: true }, ['refused'], ['split fold fuse']],
  ['split only, unfused: with the fold, then without', { kvUpdate: 'split', fuse: false }, ['differs +folded', 'run'], ['split fold', 'split']],
  ['append only: no fold, a fused failure retried unfused', { kvUpdate: 'append', foldRepeatKv: true, fuse: true }, ['load +fused', 'run'], ['append fuse', 'append']],
  ['append only, unfused, loads', { kvUpdate: 'append', fuse: false }, ['ok'], ['append']],
]

describe('nextAttempt', () => {
  for (const [what, opts, outcomes, expected] of ROWS) {
    it(what, () => {
      assert.deepEqual(attempts(opts, outcomes), expected)
    })
  }

  it('depends on its arguments alone: a changed answer or a reused history changes nothing planned', () => {
    const history: Tried[] = []
    const first = nextAttempt({ fuse: true }, history)!
    first.fuse = false
    assert.deepEqual(nextAttempt({ fuse: true }, history), { kind: 'split', fold: true, fuse: true })
    history.push({ attempt: first, outcome: outcome('differs +fused +folded') })
    assert.deepEqual(nextAttempt({ fuse: true }, history), { kind: 'split', fold: true, fuse: false })
    assert.deepEqual(nextAttempt({ fuse: true }, history), { kind: 'split', fold: true, fuse: false })
  })
})
