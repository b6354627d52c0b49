// The speculative bench's acceptance part, on the one trained model here: stories260K imported
// from its GGUF. Prompt lookup on rewrite-this-story and free-continuation tasks, predictions,
// and its q8 and q4 conversions drafting for its fp32 one (the only same-vocabulary pairs at hand).

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Engine } from '../../src-main/engine/engine.ts'
import { loadModel } from '../../src-main/engine/load-model.ts'
import { loadTokenizer, type ChatTokenizer } from '../../src-main/engine/tokenizer.ts'
import type { GenerateResult, LoadOptions } from '../../src-main/model-format/protocol.ts'
import { convertGguf } from '../../src-main/models/gguf/convert.ts'
import { STORIES_GGUF, STORIES_PPL_TEXT, storiesMissing } from '../stories-fixture.ts'
import { argmax } from './protocol.ts'
import { editWords, longestCopiedRun, type AcceptanceReport, type AcceptanceRow, type DraftKind } from './spec-report.ts'

export interface AcceptanceOptions {
  threads: number
  /** Reply tokens per task; prompt plus reply stay within the 512 positions the model was trained on. */
  tokens: number
  log: (line: string) => void
}

interface Task {
  task: string
  kind: AcceptanceRow['kind']
  /** The whole chat: the converted model's template is <s> followed by the messages' text. */
  prompt: string
}

/**
 * The tasks. Rewrite: a passage of the project's TinyStories-style text, then its start again, so
 * a model that copies would go on with the passage. At 260K parameters it does not (the copied
 * column shows it); these were the formulations that came closest among those tried (README).
 */
function tasks(text: string): Task[] {
  const paragraphs = text.trim().split('\n')
  const passage = paragraphs.slice(0, 2).join('\n')
  const firstSentence = passage.slice(0, passage.indexOf('.') + 1)
  const sentence = 'Tom had a red ball that he loved very much.'
  return [
    { task: 'passage, then its first sentence again', kind: 'rewrite', prompt: `${passage}\n${firstSentence}` },
    { task: 'passage twice, then its first sentence', kind: 'rewrite', prompt: `${passage}\n${passage}\n${firstSentence}` },
    { task: 'a sentence three times, then its start', kind: 'rewrite', prompt: `${sentence}\n${sentence}\n${sentence}\nTom had` },
    { task: 'free: "Tom had a red kite."', kind: 'free', prompt: 'Tom had a red kite.' },
    { task: 'free: "One day, a little cat"', kind: 'free', prompt: 'One day, a little cat' },
  ]
}

const PAIRS_NOT_MEASURED = [
  'SmolLM2-135M drafting for SmolLM2-360M or 1.7B, and Qwen2.5-0.5B for Qwen2.5-1.5B: no trained weights can be downloaded ' +
    'on this machine, and random-weight models of those shapes agree on nothing, so their acceptance would mean nothing',
]

/**
 * The share of `reply`'s tokens the model in `dir` would have chosen itself, greedy, given the
 * prompt and the reply before each: a greedy draft model's per-token acceptance on that reply,
 * whatever the engine's draft lengths (which follow timings) made of it.
 */
async function agreement(dir: string, tokenizer: ChatTokenizer, prompt: string, reply: readonly number[], threads: number): Promise<number> {
  const { session } = await loadModel(dir, { providers: ['cpu'], threads })
  const kv = session.emptyCache()
  try {
    const fed = tokenizer.encodeChat([{ role: 'user', content: prompt }], { addGenerationPrompt: true })
    const rows = await session.forward(kv, [...fed, ...reply], { logits: 'all' })
    const V = session.vocab
    let same = 0
    for (let i = 0; i < reply.length; i++) {
      const at = fed.length - 1 + i
      if (argmax(rows.subarray(at * V, (at + 1) * V)) === reply[i]) same++
    }
    return same / reply.length
  } finally {
    kv.dispose()
    await session.release()
  }
}

export async function measureAcceptance(opts: AcceptanceOptions): Promise<AcceptanceReport> {
  const report: AcceptanceReport = { model: 'stories260K (trained, from its GGUF)', rows: [], pairsMeasured: [], pairsNotMeasured: PAIRS_NOT_MEASURED, failures: [] }
  const missing = storiesMissing()
  if (missing) {
    report.failures.push(missing)
    return report
  }
  const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-spec-'))
  const engine = new Engine()
  try {
    const dirs = { fp32: path.join(root, 'fp32'), q8: path.join(root, 'q8'), q4: path.join(root, 'q4') }
    for (const [precision, dir] of Object.entries(dirs)) await convertGguf(STORIES_GGUF, dir, { precision: precision as keyof typeof dirs })
    const tokenizer = await loadTokenizer(dirs.fp32)
    const all = tasks(await readFile(STORIES_PPL_TEXT, 'utf8'))
    const load: LoadOptions = { providers: ['cpu'], threads: opts.threads }
    let runs = 0
    const generate = async (task: Task, speculate: boolean, prediction?: string): Promise<GenerateResult> => {
      const conversationId = `spec-stories-${runs++}`
      try {
        const params = { temperature: 0, repetitionPenalty: 1, maxTokens: opts.tokens, stop: [] }
        const request = { conversationId, messages: [{ role: 'user' as const, content: task.prompt }], params, speculate, ...(prediction === undefined ? {} : { prediction }) }
        return await engine.generate(request, () => {}, () => false)
      } finally {
        await engine.dropCache(conversationId)
      }
    }
    const row = (task: Task, drafts: DraftKind, plain: GenerateResult, spec: GenerateResult, draftModel?: string): AcceptanceRow => ({
      task: task.task,
      kind: task.kind,
      drafts,
      ...(draftModel ? { draftModel } : {}),
      promptTokens: plain.stats.promptTokens,
      replyTokens: plain.tokens.length,
      copiedRun: longestCopiedRun(plain.tokens, tokenizer.encode(task.prompt)),
      drafted: spec.stats.speculation?.drafted ?? 0,
      accepted: spec.stats.speculation?.accepted ?? 0,
      passes: spec.stats.speculation?.passes ?? 0,
      sources: spec.stats.speculation?.sources ?? [],
      identical: spec.tokens.length === plain.tokens.length && spec.tokens.every((t, i) => t === plain.tokens[i]),
    })

    opts.log('stories260K fp32: prompt lookup and predictions')
    const info = await engine.load(dirs.fp32, load)
    if (!info.speculation.available) throw new Error(`the engine cannot verify drafts on stories260K: ${info.speculation.reason ?? 'no reason given'}`)
    const plain = new Map<Task, GenerateResult>()
    for (const task of all) {
      plain.set(task, await generate(task, false))
      report.rows.push(row(task, 'lookup', plain.get(task)!, await generate(task, true)))
    }
    const first = all[0]!
    const reply = plain.get(first)!
    report.rows.push(row(first, 'prediction (exact)', reply, await generate(first, true, reply.text)))
    report.rows.push(row(first, 'prediction (5% of words edited)', reply, await generate(first, true, editWords(reply.text, 0.05, 17).text)))

    for (const precision of ['q8', 'q4'] as const) {
      const name = `stories260K ${precision}`
      opts.log(`stories260K fp32 with ${name} drafting`)
      const loaded = await engine.load(dirs.fp32, { ...load, draftModelDir: dirs[precision] })
      if (loaded.speculation.draftModelId === null) {
        report.failures.push(`${name} as the draft model: ${loaded.speculation.draftModelError ?? 'not loaded, no reason given'}`)
        continue
      }
      report.pairsMeasured.push(`${name} drafting for stories260K fp32 (one vocabulary: the same model at a lower precision)`)
      for (const task of all) {
        const r = row(task, 'lookup + draft model', plain.get(task)!, await generate(task, true), name)
        r.agreement = await agreement(dirs[precision], tokenizer, task.prompt, plain.get(task)!.tokens, opts.threads)
        report.rows.push(r)
      }
    }
  } catch (err) {
    report.failures.push(err instanceof Error ? err.message : String(err))
  } finally {
    await engine.unload()
    await rm(root, { recursive: true, force: true })
  }
  return report
}
