// Which in-place rewrite a session tries next at load, from what became of the ones it tried.
//
// The order: 'split' with the repeat_kv fold, 'split' without it, 'append' (then the export as it
// is, which is the session's business). Fused kernels are tried first. A fused attempt that fails
// is tried again unfused: if the unfused graph fails the same way, the fusion was not at fault
// and later attempts still fuse; otherwise it was, and they do not. (Fusion is exact by
// construction; this guards exports whose patterns match in a way the tests never saw.)

import type { KvUpdate } from '../../src-shared/types.ts'
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
  kvUpdate?: 'auto' | KvUpdate
  /** Default true. */
  foldRepeatKv?: boolean
  fuse: boolean
}

interface Planned extends Attempt {
  /** How the fused attempt this one retries unfused failed. */
  retryOf?: Failure
}

export class LoadPlan {
  private queue: Planned[]

  constructor(opts: PlanOptions) {
    const kinds: InPlaceUpdate[] = opts.kvUpdate === 'split' || opts.kvUpdate === 'append' ? [opts.kvUpdate] : ['split', 'append']
    const { fuse } = opts
    // A split whose repeat_kv fold fails is tried again without the fold.
    this.queue = kinds.flatMap((kind): Planned[] =>
      kind === 'split' && opts.foldRepeatKv !== false ? [{ kind, fold: true, fuse }, { kind, fold: false, fuse }] : [{ kind, fold: false, fuse }],
    )
  }

  /** The attempt to make now, or null when none is left. */
  next(): Attempt | null {
    const planned = this.queue[0]
    return planned ? { kind: planned.kind, fold: planned.fold, fuse: planned.fuse } : null
  }

  /** Records what became of the attempt `next` gave, which then gives the one after it. */
  record(outcome: Outcome): void {
    const tried = this.queue.shift()
    if (!tried) throw new Error('LoadPlan#record without an attempt')
    if (outcome.refused) {
      // The same refusal without the fold.
      if (tried.fold) this.dropUnfolded(tried.kind)
      return
    }
    // Nothing folded: the unfolded attempt would be the same graph.
    if (tried.fold && outcome.folded === 0) this.dropUnfolded(tried.kind)
    if (outcome.fused) {
      this.queue.unshift({ kind: tried.kind, fold: tried.fold, fuse: false, retryOf: outcome.failed })
    } else if (tried.retryOf && tried.retryOf !== outcome.failed) {
      // Unfused, this graph got further: the fusion failed it, and would fail the next kind too.
      for (const later of this.queue) later.fuse = false
    }
  }

  private dropUnfolded(kind: InPlaceUpdate): void {
    const at = this.queue.findIndex((a) => a.kind === kind && !a.fold)
    if (at >= 0) this.queue.splice(at, 1)
  }
}
