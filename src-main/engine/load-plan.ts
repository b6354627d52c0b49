// Which in-place rewrite a session tries next at load, from what became of the ones it tried.
//
// The order: 'split' with the repeat_kv fold, 'split' without it, 'append' (then the export as it
// is, which is the session's business). Fused kernels are tried first. A fused attempt that fails
// is tried again unfused: if the unfused graph fails the same way, the fusion was not at fault
// and later attempts still fuse; otherwise it was, and they do not. (Fusion is exact by
// construction; this guards exports whose patterns match in a way the tests never saw.)

import type { InPlaceUpdate } from './graph/rewrite-model.ts'

export interface Attempt {
  kind: InPlaceUpdate
  /** Fold the export's repeat_kv away ('split' only). */
  fold: boolean
  fuse: boolean
}

/** How a rewritten graph failed: it did not load, failed to run, or its logits differ from a single pass. */
export type Failure = 'load' | 'run' | 'differs'

/** What became of an attempt that did not succeed. */
export type Outcome =
  /** The rewrite refused the graph, or could not read the file. */
  | { refused: true }
  /** Rewritten, with `folded` cache reads folded and something `fused` or not, and failed so. */
  | { refused: false; folded: number; fused: boolean; failed: Failure }

export interface PlanOptions {
  /** 'split' or 'append': only that rewrite. Otherwise both. */
  kvUpdate?: 'auto' | InPlaceUpdate
  /** Default true. */
  foldRepeatKv?: boolean
  fuse: boolean
}

/** An attempt made, and what became of it. */
export interface Tried {
  attempt: Attempt
  outcome: Outcome
}

interface Planned extends Attempt {
  /** How the fused attempt this one retries unfused failed. */
  retryOf?: Failure
}

/**
 * The attempt to make after those `tried` (each of which failed), or null when none is left. Pure:
 * the queue of planned attempts is replayed from `opts` through every outcome.
 */
export function nextAttempt(opts: PlanOptions, tried: readonly Tried[]): Attempt | null {
  const queue = plannedAttempts(opts)
  for (const { outcome } of tried) {
    const made = queue.shift()
    if (!made) throw new Error('nextAttempt: more attempts tried than planned')
    replan(queue, made, outcome)
  }
  const next = queue[0]
  return next ? { kind: next.kind, fold: next.fold, fuse: next.fuse } : null
}

function plannedAttempts(opts: PlanOptions): Planned[] {
  const kinds: InPlaceUpdate[] = opts.kvUpdate === 'split' || opts.kvUpdate === 'append' ? [opts.kvUpdate] : ['split', 'append']
  const { fuse } = opts
  // A split whose repeat_kv fold fails is tried again without the fold.
  return kinds.flatMap((kind): Planned[] =>
    kind === 'split' && opts.foldRepeatKv !== false ? [{ kind, fold: true, fuse }, { kind, fold: false, fuse }] : [{ kind, fold: false, fuse }],
  )
}

/** Changes the attempts still `queue`d for what became of `made`. */
function replan(queue: Planned[], made: Planned, outcome: Outcome): void {
  const dropUnfolded = (): void => {
    const at = queue.findIndex((a) => a.kind === made.kind && !a.fold)
    if (at >= 0) queue.splice(at, 1)
  }
  if (outcome.refused) {
    // The same refusal without the fold.
    if (made.fold) dropUnfolded()
    return
  }
  // Nothing folded: the unfolded attempt would be the same graph.
  if (made.fold && outcome.folded === 0) dropUnfolded()
  if (outcome.fused) {
    queue.unshift({ kind: made.kind, fold: made.fold, fuse: false, retryOf: outcome.failed })
  } else if (made.retryOf && made.retryOf !== outcome.failed) {
    // Unfused, this graph got further: the fusion failed it, and would fail the next kind too.
    for (const later of queue) later.fuse = false
  }
}
