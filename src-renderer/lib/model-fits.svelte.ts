// Whether each library model fits this machine (main's modelFit), asked for the first time a row shows it and kept.

import type { FitReport, FitVerdict } from '../../src-shared/types.ts'
import { api } from './api.ts'

const VERDICTS: Record<FitVerdict, string> = { fits: 'fits', tight: 'tight', 'wont-fit': 'too big' }

export function verdictLabel(verdict: FitVerdict): string {
  return VERDICTS[verdict]
}

const SENTENCES: Record<FitVerdict, string> = { fits: 'fits this machine', tight: 'tight on this machine', 'wont-fit': 'too big for this machine' }

/** The verdict as the cards and Discover word it. */
export function verdictSentence(verdict: FitVerdict): string {
  return SENTENCES[verdict]
}

class ModelFitsState {
  /** Per model id: its report, or null where main could not judge it. */
  reports = $state<Record<string, FitReport | null>>({})
  /** Ids asked for and not yet answered; not reactive, so get() may add to it while the UI renders. */
  #asked = new Set<string>()

  constructor() {
    // A changed folder (a variant added or removed) changes its fit.
    api.on('modelsChanged', () => {
      this.#asked.clear()
      this.reports = {}
    })
  }

  /** The report when it has come; asks main for it the first time, so a view reads it and shows it once it arrives. */
  get(modelId: string): FitReport | null | undefined {
    if (!(modelId in this.reports) && !this.#asked.has(modelId)) {
      this.#asked.add(modelId)
      void api.modelFit(modelId).then(
        (report) => this.#settle(modelId, report),
        () => this.#settle(modelId, null),
      )
    }
    return this.reports[modelId]
  }

  #settle(modelId: string, report: FitReport | null): void {
    // An answer that a models change overtook is about the folder as it was.
    if (!this.#asked.delete(modelId)) return
    this.reports[modelId] = report
  }
}

export const modelFits = new ModelFitsState()
