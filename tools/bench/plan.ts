// What a bench run measures: sizes, repeats and step counts for --quick and for a full run, and
// the interleaved order of jobs: engines rotate at each point and every point is visited once per
// round, so a slow spell of a shared machine falls on no engine in particular.

import type { EngineName, Task } from './protocol.ts'

export interface Plan {
  prefillTokens: number[]
  decodeContexts: number[]
  prefillRepeats: number
  decodeSteps: number
  /** Passes over every point; the report keeps each engine's best pass. */
  rounds: number
  /** Steps of the flat-memory check (Hearth only); 0 skips it. */
  memorySteps: number
  memoryEvery: number
}

export const QUICK_PLAN: Plan = {
  prefillTokens: [128, 512],
  decodeContexts: [128, 1024],
  prefillRepeats: 1,
  decodeSteps: 16,
  rounds: 2,
  memorySteps: 200,
  memoryEvery: 20,
}

export const FULL_PLAN: Plan = {
  prefillTokens: [128, 512, 2048],
  decodeContexts: [128, 1024, 4096],
  prefillRepeats: 3,
  decodeSteps: 48,
  rounds: 2,
  memorySteps: 2000,
  memoryEvery: 100,
}

export interface PlannedJob {
  engine: EngineName
  task: Task
}

/**
 * Every (engine, task) pair once per round, points in order, the engine order rotated from one
 * point to the next and from one round to the next.
 */
export function interleave(plan: Plan, engines: readonly EngineName[]): PlannedJob[] {
  const tasks: Task[] = [
    ...plan.prefillTokens.map((tokens): Task => ({ kind: 'prefill', tokens, repeats: plan.prefillRepeats })),
    ...plan.decodeContexts.map((context): Task => ({ kind: 'decode', context, steps: plan.decodeSteps })),
  ]
  const jobs: PlannedJob[] = []
  for (let round = 0; round < plan.rounds; round++) {
    tasks.forEach((task, i) => {
      for (let k = 0; k < engines.length; k++) jobs.push({ engine: engines[(i + k + round) % engines.length]!, task })
    })
  }
  if (plan.memorySteps > 0 && engines.includes('hearth')) {
    jobs.push({ engine: 'hearth', task: { kind: 'memory', context: 128, steps: plan.memorySteps, every: plan.memoryEvery } })
  }
  return jobs
}
