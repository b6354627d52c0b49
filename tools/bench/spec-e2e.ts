// The speculative bench's end-to-end part: decode tok/s with speculation off and on through
// Engine#generate, at a bench model's shape (random weights), on rewrite tasks and free generation.
//
// A random-weight model with tied embeddings repeats its input token under plain greedy decoding
// (its reply is one token over and over), which prompt lookup drafts perfectly: that is not a
// reply with "nothing to copy". A repetition penalty of 2 makes it choose a new token every step,
// so most cases run with it; the speculative sampler applies the same penalty at every verified
// position, and greedy replies must still equal plain ones token for token (checked each round).

import { Engine } from '../../src-main/engine/engine.ts'
import { loadTokenizer } from '../../src-main/engine/tokenizer.ts'
import type { GenerateRequest, GenerateResult } from '../../src-main/model-format/protocol.ts'
import type { ChatMessage, GenerationParams } from '../../src-shared/types.ts'
import type { BenchModel } from './models.ts'
import { editWords, FREE_JUDGED, MISS_JUDGED, REWRITE_JUDGED, rotate, wrongGuesses, type EndToEndCase, type EndToEndReport } from './spec-report.ts'

export interface EndToEndOptions {
  threads: number
  /** Reply tokens per generation. */
  tokens: number
  /** Off/on pairs per case. */
  rounds: number
  log: (line: string) => void
}

const REWRITE_ASK = 'Rewrite the following note so it reads well, keeping every fact and its order.'
const FREE_ASK = 'Write a short story about a lighthouse keeper who finds a message in a bottle.'
/** Fraction of the prediction's words changed for the edited case, and the edit's seed. */
const EDITED = 0.05
const EDIT_SEED = 17

interface CaseSpec {
  task: string
  kind: EndToEndCase['kind']
  note: string
  messages: ChatMessage[]
  params: Partial<GenerationParams>
  prediction?: string
  /** Cases with the same baseline share its plain runs. */
  baseline: string
}

/**
 * Decodes every case with speculation off and on. The roofline is left at 0: the caller measures
 * the machine's bandwidth before and after and fills it in (withRoofline, spec-report.ts).
 */
export async function measureEndToEnd(model: BenchModel, opts: EndToEndOptions): Promise<EndToEndReport> {
  const engine = new Engine()
  const report: EndToEndReport = { model: model.name, roofline: null, cost: model.cost, cases: [] }
  try {
    const info = await engine.load(model.dir, { variant: model.precision, providers: ['cpu'], threads: opts.threads })
    if (!info.speculation.available) throw new Error(`the engine cannot verify drafts on this model: ${info.speculation.reason ?? 'no reason given'}`)
    let runs = 0
    const generate = async (spec: CaseSpec, speculate: boolean, prediction?: string): Promise<GenerateResult> => {
      const conversationId = `spec-e2e-${runs++}`
      const request: GenerateRequest = { conversationId, messages: spec.messages, params: spec.params, speculate, ...(prediction === undefined ? {} : { prediction }) }
      try {
        return await engine.generate(request, () => {}, () => false)
      } finally {
        await engine.dropCache(conversationId)
      }
    }
    const greedy = (repetitionPenalty: number): Partial<GenerationParams> => ({ temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty, maxTokens: opts.tokens, stop: [] })
    const rewrite: ChatMessage[] = [{ role: 'user', content: REWRITE_ASK }]
    const free: ChatMessage[] = [{ role: 'user', content: FREE_ASK }]

    // The reply a rewrite should come close to: the plain greedy reply, as an editor would send
    // back the file it asked to have rewritten.
    opts.log(`${model.name}: the plain replies the predictions are made from`)
    const reference = await generate({ task: '', kind: 'rewrite', note: '', messages: rewrite, params: greedy(2), baseline: '' }, false)
    const edited = editWords(reference.text, EDITED, EDIT_SEED)
    // And one that misleads: drafts are found after every two tokens of the free reply, all wrong.
    const tokenizer = await loadTokenizer(model.dir)
    const freeReply = await generate({ task: '', kind: 'free', note: '', messages: free, params: greedy(2), baseline: '' }, false)
    const wrong = tokenizer.encode(' zebra quartz jinx').find((t) => !freeReply.tokens.includes(t)) ?? 3
    const misleading = tokenizer.decode(wrongGuesses(freeReply.tokens, wrong))
    const lookupPrompt: ChatMessage[] = [{ role: 'user', content: `${REWRITE_ASK}\n\n${reference.text}` }]
    const specs: CaseSpec[] = [
      {
        task: 'rewrite, prediction exact',
        kind: 'rewrite',
        note: "`prediction` is the plain reply to the same prompt, the API's Predicted Outputs",
        messages: rewrite, params: greedy(2), prediction: reference.text, baseline: 'rewrite',
      },
      {
        task: REWRITE_JUDGED,
        kind: 'rewrite',
        note: `\`prediction\` is the plain reply with ${edited.changed} of its ${edited.words} words replaced`,
        messages: rewrite, params: greedy(2), prediction: edited.text, baseline: 'rewrite',
      },
      {
        task: 'rewrite, prompt lookup',
        kind: 'rewrite',
        note: "the prompt holds the plain reply's text for lookup to draft from; a random-weight model has no reason to copy it",
        messages: lookupPrompt, params: greedy(2), baseline: 'lookup',
      },
      {
        task: FREE_JUDGED,
        kind: 'free',
        note: 'a story prompt, repetition penalty 2: the reply repeats nothing, so there is nothing to draft',
        messages: free, params: greedy(2), baseline: 'free',
      },
      {
        task: MISS_JUDGED,
        kind: 'free',
        note: "the same prompt with a `prediction` holding every two consecutive tokens of the plain reply followed by a wrong one: drafts are found at every step and every one misses, which drafting must notice and stop paying for",
        messages: free, params: greedy(2), prediction: misleading, baseline: 'free',
      },
      {
        task: 'free generation, penalty 1',
        kind: 'free',
        note: "the model's plain greedy reply, which for random weights repeats one token: lookup drafts it from the reply itself",
        messages: free, params: greedy(1), baseline: 'free-loop',
      },
    ]

    const off = new Map<string, GenerateResult[]>()
    const cases = new Map<string, { spec: CaseSpec; on: GenerateResult[] }>(specs.map((s) => [s.task, { spec: s, on: [] }]))
    for (let round = 0; round < opts.rounds; round++) {
      opts.log(`${model.name}: round ${round + 1} of ${opts.rounds}`)
      // Each baseline is decoded once a round, next to the cases that share it; off and on take
      // turns going first, so drift over the run falls on both alike.
      for (const baseline of rotate([...new Set(specs.map((s) => s.baseline))], round)) {
        const group = specs.filter((s) => s.baseline === baseline)
        const plain = async (): Promise<void> => {
          off.set(baseline, [...(off.get(baseline) ?? []), await generate(group[0]!, false)])
        }
        if (round % 2 === 0) await plain()
        for (const spec of rotate(group, round)) cases.get(spec.task)!.on.push(await generate(spec, true, spec.prediction))
        if (round % 2 === 1) await plain()
      }
    }

    for (const { spec, on } of cases.values()) {
      const plain = off.get(spec.baseline) ?? []
      const first = plain[0]!
      report.cases.push({
        task: spec.task,
        kind: spec.kind,
        note: spec.note,
        promptTokens: first.stats.promptTokens,
        replyTokens: first.tokens.length,
        offTokPerSec: plain.map((r) => r.stats.decodeTokensPerSecond),
        onTokPerSec: on.map((r) => r.stats.decodeTokensPerSecond),
        drafted: on.reduce((n, r) => n + (r.stats.speculation?.drafted ?? 0), 0),
        accepted: on.reduce((n, r) => n + (r.stats.speculation?.accepted ?? 0), 0),
        passes: on.reduce((n, r) => n + (r.stats.speculation?.passes ?? 0), 0),
        sources: [...new Set(on.flatMap((r) => r.stats.speculation?.sources ?? []))],
        identical: on.every((r) => sameTokens(r.tokens, first.tokens)),
        meanContext: first.stats.promptTokens + first.tokens.length / 2,
        rooflineTokPerSec: 0,
      })
    }
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err)
  } finally {
    await engine.unload()
  }
  return report
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i])
}
