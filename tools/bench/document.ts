// `npm run bench -- document`: chatting with a ~3,000-token document through the whole app (createApp
// in browser mode, the real engine process, snapshots in the data dir): time to the first token of
// the first question, a follow-up, a follow-up after a restart and a new chat with the same document,
// beside the engine alone prefilling the identical prompt.

import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as ort from 'onnxruntime-node'
import type { Events } from '../../src-shared/api.ts'
import { mergeParams } from '../../src-shared/params.ts'
import type { ChatMessage, Conversation, GenerationParams, GenerationStats, LoadedModelInfo } from '../../src-shared/types.ts'
import { createApp, type App } from '../../src-main/app/app.ts'
import { hostEngine, type EnginePort } from '../../src-main/app/engine-port.ts'
import { promptMessages } from '../../src-main/app/prompt.ts'
import { DocumentExtractor } from '../../src-main/documents/extract.ts'
import { withDocuments } from '../../src-main/documents/prompt.ts'
import { Engine } from '../../src-main/engine/engine.ts'
import { EngineHost } from '../../src-main/engine-host/engine-host.ts'
import { MIN_SEED_TOKENS } from '../../src-main/engine/kv-pool.ts'
import type { GenerateRequest, Warmed } from '../../src-main/model-format/protocol.ts'
import { buildModel, SHAPES, type ShapeName } from '../model-builder/build-model.ts'
import { seededRandom } from '../model-builder/random.ts'
import { modelCost } from './models.ts'
import { matmulWitnesses } from './roofline.ts'
import { median, prefillRoofline, type ModelCost } from './stats.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CACHE = path.join(ROOT, '.cache', 'bench')
/** Bumped whenever the model builder changes the weights it writes, so cached models are rebuilt. */
const BUILDER_REVISION = 1
const REPLY_TOKENS = 16
/** The aims: follow-up and after-restart this much faster than the first question; overhead at most this share. */
const SPEEDUP_AIM = 20
const OVERHEAD_AIM = 0.05
const QUESTIONS = {
  first: 'Summarise this document in three sentences.',
  followUp: 'Which people does it name, and what did each of them do?',
  afterRestart: 'What does the last section say about the weather?',
  afterRestartAtOnce: 'Which year does the document mention first?',
  newChat: 'List every place the document mentions, one per line.',
}

const USAGE = `usage: npm run bench -- document [options]
  --shape NAME     smollm2-135m (default), qwen2.5-0.5b or tiny: a random-weight model of that shape
  --tokens N       the document's size in the model's tokens (default 3000, at most 60% of the context)
  --repeat N       rounds, each with its own document (default 5)
  --threads N      engine threads (default: the app's, from the machine's cores)
  --keep           keep the temporary data folder
  --json FILE      default .cache/bench/results/document.json, with document.md beside it
  --publish        write docs/bench/document.json and document.md`

/** One reply as the bench saw it: wall time from api.send to its first token, and the reply's stats. */
interface Step {
  ttftMs: number
  /** The engine's own time to first token for this reply (GenerationStats.ttftMs). */
  engineTtftMs: number
  promptTokens: number
  reusedTokens: number
  prefillMs: number
  prefillTokensPerSecond: number
  /** prefillProgress events seen for the reply. */
  prefillReports: number
}

interface Round {
  document: { name: string; chars: number; tokens: number }
  /** attachDocument: extraction and storing. */
  attachMs: number
  first: Step
  /** The engine alone (in this process) on the first question's exact messages, maxTokens 1. */
  engine: Step
  engineWentFirst: boolean
  followUp: Step
  newChat: Step
  /** loadModel after createApp on the same data dir, before the follow-up. */
  restartLoadMs: number
  /** From opening the first chat after the restart (getConversation) to its cache read ahead from the snapshot. */
  readAheadMs: number
  /** The first chat, asked once its cache was read ahead. */
  afterRestart: Step
  /** The new chat, asked the moment it was opened: its read-ahead still running. */
  afterRestartAtOnce: Step
}

interface Spread {
  median: number
  min: number
  max: number
}

interface Check {
  name: string
  ok: boolean
  detail: string
}

export interface DocumentReport {
  machine: { cpu: string; cores: number; memoryGiB: number; platform: string; node: string; onnxruntime: string; date: string; loadAverage: { start: number; end: number } }
  model: { shape: ShapeName; parameters: number; provider: string; variant: string; threads: number; contextLength: number }
  options: { tokens: number; repeat: number; replyTokens: number }
  roofline: { matmulFlopsPerSecond: number; prefillTokensPerSecond: number }
  rounds: Round[]
  ttftMs: Record<'first' | 'engine' | 'followUp' | 'afterRestart' | 'afterRestartAtOnce' | 'afterRestartWithLoad' | 'newChat', Spread>
  attachMs: Spread
  readAheadMs: Spread
  /** Medians of the rounds' paired ratios. */
  ratios: {
    firstOverFollowUp: Spread
    firstOverAfterRestart: Spread
    firstOverAfterRestartAtOnce: Spread
    firstOverAfterRestartWithLoad: Spread
    firstOverNewChat: Spread
    prefillSpeed: Spread
  }
  /**
   * Shares of the engine's time to first token: the app's first question over the engine alone (paired, so noisy),
   * attach over the first prefill, their sum; and, steadier, attach plus the app's time before the reply's own engine TTFT.
   */
  overhead: { templating: Spread; attach: Spread; total: Spread; appSide: Spread }
  aims: { aim: string; measured: string; met: boolean }[]
  checks: Check[]
}

export async function runDocumentBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      shape: { type: 'string' },
      tokens: { type: 'string' },
      repeat: { type: 'string' },
      threads: { type: 'string' },
      keep: { type: 'boolean' },
      json: { type: 'string' },
      publish: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) return console.log(USAGE)
  const int = (name: string, value: string | undefined, fallback: number): number => {
    const n = value === undefined ? fallback : Number(value)
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a positive integer\n${USAGE}`)
    return n
  }
  const shape = (values.shape ?? 'smollm2-135m') as ShapeName
  if (!(shape in SHAPES)) throw new Error(`unknown --shape ${shape}\n${USAGE}`)
  const most = Math.floor(SHAPES[shape].contextLength * 0.6)
  const tokens = int('tokens', values.tokens, Math.min(3000, most))
  if (tokens > most) throw new Error(`--tokens ${tokens}: the ${shape} shape's context reads at most ${most} whole beside the chat`)
  const repeat = int('repeat', values.repeat, 5)
  const threads = values.threads === undefined ? undefined : int('threads', values.threads, 1)
  const jsonFile = values.publish ? path.join(ROOT, 'docs', 'bench', 'document.json') : path.resolve(values.json ?? path.join(CACHE, 'results', 'document.json'))

  const modelsDir = path.join(CACHE, 'document-models')
  await benchModel(modelsDir, shape)
  const work = await mkdtemp(path.join(os.tmpdir(), 'hearth-document-'))
  try {
    const report = await bench({ modelsDir, modelId: shape, dataDir: path.join(work, 'data'), tokens, repeat, threads })
    await mkdir(path.dirname(jsonFile), { recursive: true })
    await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`)
    await writeFile(jsonFile.replace(/\.json$/, '.md'), renderDocumentMarkdown(report))
    console.log(`\n${renderDocumentMarkdown(report)}\nwrote ${jsonFile} and its .md`)
    // A failed check is a bug in the feature, not a slow machine.
    if (report.checks.some((c) => !c.ok)) process.exitCode = 1
  } finally {
    if (values.keep) console.log(`kept ${work}`)
    else await rm(work, { recursive: true, force: true })
  }
}

function say(line: string): void {
  console.log(`[document ${new Date().toISOString().slice(11, 19)}] ${line}`)
}

interface BenchConfig {
  modelsDir: string
  modelId: string
  dataDir: string
  tokens: number
  repeat: number
  threads: number | undefined
}

async function bench(config: BenchConfig): Promise<DocumentReport> {
  const loadAtStart = os.loadavg()[0]!
  const modelDir = path.join(config.modelsDir, config.modelId)
  const opened = await openApp(config)
  const { info } = opened
  let { app } = opened
  let warms: Promise<Warmed>[]
  say(`${config.modelId}: ${info.provider} ${info.variant}, ${info.threads} threads, context ${info.contextLength}`)
  const engine = new Engine()
  const loadEngine = (): Promise<LoadedModelInfo> => engine.load(modelDir, { providers: [info.provider], variant: info.variant, threads: info.threads })
  await loadEngine()
  const rounds: Round[] = []
  try {
    const flopsBefore = await matmulFlops(info.threads)
    // Both engines' first passes stay out of the figures.
    const warm = await app.api.createConversation({ modelId: config.modelId, params: { maxTokens: 4 } })
    await ask(app, warm.id, 'Hello!')
    await warmEngine(engine)

    for (let r = 0; r < config.repeat; r++) {
      const name = `field-notes-${r + 1}.md`
      const doc = makeDocument(r + 1, config.tokens, (texts) => engine.countTokens(texts))
      let started = performance.now()
      const attached = await app.api.attachDocument(`doc-${r}`, name, Buffer.from(doc).toString('base64'))
      const attachMs = performance.now() - started
      const { text } = await app.api.getDocument(attached.id)
      const [docTokens = 0] = engine.countTokens([text])
      const settings = await app.api.getSettings()
      const params: Partial<GenerationParams> = { temperature: 0, maxTokens: REPLY_TOKENS }
      const a = await app.api.createConversation({ modelId: config.modelId, params })
      // The messages the app should send for the first question [TAG_DOCUMENT_PREFIX]: checked against its stored context below.
      const messages: ChatMessage[] = [
        ...(a.systemPrompt.trim() === '' ? [] : [{ role: 'system' as const, content: a.systemPrompt }]),
        { role: 'user', content: withDocuments(QUESTIONS.first, [{ name, text }], []) },
      ]
      const request: GenerateRequest = {
        conversationId: `engine-${r}`,
        messages,
        params: { ...mergeParams(settings.defaultParams, a.params), maxTokens: 1 },
        contextPolicy: a.contextPolicy,
        speculate: settings.speculativeDecoding,
      }
      const engineWentFirst = r % 2 === 1
      let engineStep = engineWentFirst ? await engineAlone(engine, request) : null
      const first = await ask(app, a.id, QUESTIONS.first, [attached.id])
      engineStep ??= await engineAlone(engine, request)
      await checkPrompt(app, a, messages)
      const followUp = await ask(app, a.id, QUESTIONS.followUp)
      const b = await app.api.createConversation({ modelId: config.modelId, params })
      const newChat = await ask(app, b.id, QUESTIONS.newChat, [attached.id])

      await app.close()
      ;({ app, warms } = await openApp(config))
      started = performance.now()
      await app.api.loadModel(config.modelId)
      const restartLoadMs = performance.now() - started
      // The user opens the chat (its cache is read ahead meanwhile), then asks.
      started = performance.now()
      await app.api.getConversation(a.id)
      const warmed = await warms.at(-1)
      const readAheadMs = performance.now() - started
      if (warmed?.from !== 'snapshot') throw new Error(`opening the chat read no cache ahead: ${JSON.stringify(warmed)}`)
      const afterRestart = await ask(app, a.id, QUESTIONS.afterRestart)
      // The other chat is asked the moment it opens: the question waits for the read-ahead it started.
      await app.api.getConversation(b.id)
      const afterRestartAtOnce = await ask(app, b.id, QUESTIONS.afterRestartAtOnce)
      // The in-process engine starts afresh too, so both meet the next first question alike.
      await loadEngine()
      await warmEngine(engine)

      const round: Round = {
        document: { name, chars: text.length, tokens: docTokens },
        attachMs,
        first,
        engine: engineStep,
        engineWentFirst,
        followUp,
        newChat,
        restartLoadMs,
        readAheadMs,
        afterRestart,
        afterRestartAtOnce,
      }
      rounds.push(round)
      say(
        `round ${r + 1}: ${docTokens} document tokens, attach ${ms(attachMs)}; first ${ms(first.ttftMs)} (engine alone ${ms(engineStep.ttftMs)}), ` +
          `follow-up ${ms(followUp.ttftMs)}, new chat ${ms(newChat.ttftMs)} (${newChat.reusedTokens} reused), ` +
          `after restart ${ms(afterRestart.ttftMs)} (${afterRestart.reusedTokens} reused; load ${ms(restartLoadMs)}, read ahead ${ms(readAheadMs)}), ` +
          `asked at once ${ms(afterRestartAtOnce.ttftMs)} (${afterRestartAtOnce.reusedTokens} reused)`,
      )
    }
    const cost = modelCost(JSON.parse(await readFile(path.join(modelDir, 'config.json'), 'utf8')) as Parameters<typeof modelCost>[0], 'fp32')
    // Other processes only lower it: the best of before and after.
    const flops = Math.max(flopsBefore, await matmulFlops(info.threads))
    return summarize(config, info, cost, flops, rounds, { start: loadAtStart, end: os.loadavg()[0]! })
  } finally {
    await app.close()
    await engine.unload()
  }
}

/** fp32 matmul FLOP/s: the best of the bench's matmul witnesses (roofline.ts), one at a time (they would share the cores). */
async function matmulFlops(threads: number): Promise<number> {
  return (await matmulWitnesses(threads, 5))[0]!.flopsPerSecond
}

/** The app as `npm start` makes it, its engine's read-aheads recorded (`warms`, in order) so the bench can wait for one. */
async function openApp(config: BenchConfig): Promise<{ app: App; info: LoadedModelInfo; warms: Promise<Warmed>[] }> {
  const port = hostEngine(new EngineHost())
  const warms: Promise<Warmed>[] = []
  const engine: EnginePort = {
    ...port,
    warmCache: (conversationId) => {
      const warmed = port.warmCache(conversationId)
      warms.push(warmed)
      return warmed
    },
  }
  // As `npm start` makes it: a document reader process ready from the start.
  const extractor = new DocumentExtractor({ readyAtStart: true })
  const app = await createApp({ shell: 'browser', version: 'bench', dataDir: config.dataDir, modelsDir: config.modelsDir, engine, extractor })
  await app.api.setSettings({ defaultModelId: config.modelId, ...(config.threads === undefined ? {} : { threads: config.threads }) })
  return { app, info: await app.api.loadModel(config.modelId), warms }
}

/** Sends as a user does and waits for the reply to end; the clock runs from the call to the first `token` event. */
async function ask(app: App, conversationId: string, text: string, documentIds?: string[]): Promise<Step> {
  let firstToken = 0
  let prefillReports = 0
  let unsubscribe = (): void => undefined
  const ended = new Promise<Events['done']>((resolve, reject) => {
    unsubscribe = app.events.subscribe((event, payload) => {
      if ((payload as { conversationId?: string }).conversationId !== conversationId) return
      if (event === 'token' && firstToken === 0) firstToken = performance.now()
      else if (event === 'prefillProgress') prefillReports++
      else if (event === 'generationError') reject(new Error(`reply failed: ${(payload as Events['generationError']).error.message}`))
      else if (event === 'done') resolve(payload as Events['done'])
    })
  })
  const started = performance.now()
  try {
    await app.api.send(conversationId, text, documentIds)
    const { stats, message } = await ended
    if (stats === null || message.status !== 'complete') throw new Error(`reply ended ${message.status}: ${message.error ?? 'no stats'}`)
    if (firstToken === 0) throw new Error(`reply ended (${stats.stopReason}) without a token`)
    return step(firstToken - started, stats, prefillReports)
  } finally {
    unsubscribe()
  }
}

async function engineAlone(engine: Engine, request: GenerateRequest): Promise<Step> {
  const { stats } = await engine.generate(request, () => undefined, () => false)
  await engine.dropCache(request.conversationId ?? '')
  return step(stats.ttftMs, stats, 0)
}

async function warmEngine(engine: Engine): Promise<void> {
  await engineAlone(engine, { conversationId: 'warm', messages: [{ role: 'user', content: 'Hello!' }], params: { maxTokens: 4 } })
}

function step(ttftMs: number, stats: GenerationStats, prefillReports: number): Step {
  const { promptTokens, reusedTokens, prefillMs, prefillTokensPerSecond } = stats
  return { ttftMs, engineTtftMs: stats.ttftMs, promptTokens, reusedTokens, prefillMs, prefillTokensPerSecond, prefillReports }
}

/** The app must have put the document whole before the question, exactly as the engine-alone run got it. */
async function checkPrompt(app: App, conversation: Conversation, expected: ChatMessage[]): Promise<void> {
  const view = await app.api.getConversation(conversation.id)
  const user = view.branch.find((e) => e.message.role === 'user')?.message
  const context = user?.documentContext
  if (user === undefined || context?.mode !== 'full') throw new Error(`the document did not go in whole: ${context?.reason ?? 'no document context'}`)
  const documents = await Promise.all((user.documents ?? []).map(async (d) => ({ name: d.name, text: (await app.api.getDocument(d.id)).text })))
  const sent = promptMessages(conversation.systemPrompt, [user], (m) => withDocuments(m.content, documents, []))
  if (JSON.stringify(sent) !== JSON.stringify(expected)) throw new Error('the app rendered the first question differently from the engine-alone run')
}

/** A random-weight model of the shape in its own models folder, built once (endless: a reply never ends before its limit). */
export async function benchModel(modelsDir: string, shape: ShapeName): Promise<void> {
  const dir = path.join(modelsDir, shape)
  const stamp = path.join(modelsDir, `${shape}.stamp.json`)
  const want = JSON.stringify({ shape, logitsToKeep: true, endless: true, builder: BUILDER_REVISION })
  if (existsSync(stamp) && (await readFile(stamp, 'utf8')) === want) return
  say(`building a random-weight ${shape} in ${dir}`)
  await buildModel(dir, { shape, logitsToKeep: true, endless: true })
  await writeFile(stamp, want)
}

const PEOPLE = ['Ada Marsh', 'Tomas Reed', 'Ines Holt', 'Bram Okafor', 'Mira Lund', 'Oskar Vance', 'Lena Ortiz', 'Jun Park', 'Hedda Stone', 'Ravi Menon', 'Clara Voss', 'Emil Brandt']
const PLACES = ['the mill on the Wend', 'Harrow Bridge', 'the salt market', 'the north quay', 'Fenwick school', 'the old observatory', 'the lower orchard', 'the ferry landing', 'the grain exchange', 'the lighthouse at Corran']
const VERBS = ['repaired', 'measured', 'recorded', 'questioned', 'rebuilt', 'described', 'inspected', 'counted', 'painted', 'mapped', 'cleaned', 'sold']
const THINGS = ['the water wheel', 'a ledger of grain prices', 'the northern bridge', 'three barrels of salt', 'the lamp and its lenses', 'the tide tables', 'a map of the marsh roads', 'the bell tower clock', 'the orchard walls', 'the ferry ropes', 'the school roof', 'a box of old letters']
const WHEN = ['in the spring', 'before the first frost', 'after the flood', 'every second Tuesday', 'during the long winter', 'at the end of the harvest', 'on the morning of the fair', 'late in the autumn']
const WHY = ['because the river had changed its course', 'so that the ferry could run after dark', 'although nobody had asked for it', 'while the market was closed', 'after a quarrel about the price', 'to settle a bet with the harbour master', 'since the old records had been lost']
const TOPICS = ['Water and mills', 'The salt trade', 'Roads and bridges', 'Schools and letters', 'Harbour records', 'Weather and harvests', 'Clocks and bells', 'Disputes and settlements']

/** Markdown field notes of about `tokens` tokens (by `count`, the model's tokenizer): seeded, so the same every run, and different per seed. */
function makeDocument(seed: number, tokens: number, count: (texts: string[]) => number[]): string {
  const rng = seededRandom(seed * 7919)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!
  const n = (lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1))
  const cap = (s: string): string => s[0]!.toUpperCase() + s.slice(1)
  const sentences = [
    () => `${pick(PEOPLE)} ${pick(VERBS)} ${pick(THINGS)} ${pick(WHEN)}, ${pick(WHY)}.`,
    () => `The work took ${n(2, 40)} days and cost ${n(3, 900)} shillings, ${n(2, 9)} more than the council had set aside.`,
    () => `At ${pick(PLACES)}, ${pick(PEOPLE)} and ${pick(PEOPLE)} kept notes on ${pick(THINGS)}; the notes run to ${n(3, 120)} pages.`,
    () => `Nobody at ${pick(PLACES)} remembers who first ${pick(VERBS)} ${pick(THINGS)}, but ${pick(PEOPLE)} says it was ${pick(WHEN)}.`,
    () => `In ${n(1780, 1910)}, ${n(4, 300)} families lived near ${pick(PLACES)}, and ${n(2, 60)} of them earned their living from ${pick(THINGS)}.`,
    () => `"${cap(pick(THINGS))} will not last another year," ${pick(PEOPLE)} wrote to ${pick(PEOPLE)} ${pick(WHEN)}.`,
    () => `The weather at ${pick(PLACES)} was ${pick(['wet', 'dry', 'cold', 'mild', 'stormy'])} that year: ${n(10, 95)} days of rain and ${n(0, 30)} of frost.`,
  ]
  const blocks = [`# Field notes, volume ${seed}: ${cap(pick(PLACES))} and ${pick(PLACES)}`]
  let total = count(blocks)[0] ?? 0
  // Counted a sentence at a time (a paragraph of the tiny shape's tokens runs to hundreds), each with its separator.
  const add = (text: string): string => {
    total += (count([text])[0] ?? 0) + 1
    return text
  }
  for (let i = 0; total < tokens; i++) {
    if (i % 5 === 0) {
      blocks.push(add(`## ${TOPICS[(seed + i / 5) % TOPICS.length]}`))
      continue
    }
    const list = i % 7 === 3
    const lines: string[] = []
    for (let k = n(3, list ? 5 : 6); k > 0 && total < tokens; k--) {
      lines.push(add(list ? `- ${cap(pick(THINGS))} at ${pick(PLACES)}: ${n(1, 99)} entries, kept by ${pick(PEOPLE)}.` : pick(sentences)()))
    }
    blocks.push(lines.join(list ? '\n' : ' '))
  }
  return `${blocks.join('\n\n')}\n`
}

function summarize(config: BenchConfig, info: LoadedModelInfo, cost: ModelCost, flops: number, rounds: Round[], loadAverage: { start: number; end: number }): DocumentReport {
  const spread = (xs: number[]): Spread => ({ median: round(median(xs)), min: round(Math.min(...xs)), max: round(Math.max(...xs)) })
  const of = (f: (r: Round) => number): Spread => spread(rounds.map(f))
  const withLoad = (r: Round): number => r.restartLoadMs + r.afterRestart.ttftMs
  const templating = of((r) => (r.first.ttftMs - r.engine.ttftMs) / r.engine.ttftMs)
  const attach = of((r) => r.attachMs / r.first.prefillMs)
  const total = of((r) => (r.attachMs + r.first.ttftMs - r.engine.ttftMs) / r.engine.ttftMs)
  const appSide = of((r) => (r.attachMs + r.first.ttftMs - r.first.engineTtftMs) / r.first.engineTtftMs)
  const ratios = {
    firstOverFollowUp: of((r) => r.first.ttftMs / r.followUp.ttftMs),
    firstOverAfterRestart: of((r) => r.first.ttftMs / r.afterRestart.ttftMs),
    firstOverAfterRestartAtOnce: of((r) => r.first.ttftMs / r.afterRestartAtOnce.ttftMs),
    firstOverAfterRestartWithLoad: of((r) => r.first.ttftMs / withLoad(r)),
    firstOverNewChat: of((r) => r.first.ttftMs / r.newChat.ttftMs),
    /** The app's first prefill tok/s over the engine alone's. */
    prefillSpeed: of((r) => r.first.prefillTokensPerSecond / r.engine.prefillTokensPerSecond),
  }
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
  const every = (name: string, ok: (r: Round) => boolean, detail: (r: Round) => string): Check => ({
    name,
    ok: rounds.every(ok),
    detail: rounds.map((r, i) => `${i + 1}: ${detail(r)}`).join('; '),
  })
  return {
    machine: {
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
      cores: os.availableParallelism(),
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      platform: `${process.platform}-${process.arch}`,
      node: process.versions.node,
      onnxruntime: ort.env.versions.common,
      date: new Date().toISOString().slice(0, 16).replace('T', ' '),
      loadAverage,
    },
    model: { shape: config.modelId as ShapeName, parameters: cost.parameters, provider: info.provider, variant: info.variant, threads: info.threads, contextLength: info.contextLength },
    options: { tokens: config.tokens, repeat: config.repeat, replyTokens: REPLY_TOKENS },
    roofline: { matmulFlopsPerSecond: Math.round(flops), prefillTokensPerSecond: round(prefillRoofline(flops, cost)) },
    rounds,
    ttftMs: {
      first: of((r) => r.first.ttftMs),
      engine: of((r) => r.engine.ttftMs),
      followUp: of((r) => r.followUp.ttftMs),
      afterRestart: of((r) => r.afterRestart.ttftMs),
      afterRestartAtOnce: of((r) => r.afterRestartAtOnce.ttftMs),
      afterRestartWithLoad: of(withLoad),
      newChat: of((r) => r.newChat.ttftMs),
    },
    attachMs: of((r) => r.attachMs),
    readAheadMs: of((r) => r.readAheadMs),
    ratios,
    overhead: { templating, attach, total, appSide },
    aims: [
      { aim: `follow-up at least ${SPEEDUP_AIM}x faster to the first token than the first question`, measured: `${ratios.firstOverFollowUp.median.toFixed(1)}x`, met: ratios.firstOverFollowUp.median >= SPEEDUP_AIM },
      {
        aim: `after a restart at least ${SPEEDUP_AIM}x faster (model loaded; the chat opened, its cache read ahead)`,
        measured: `${ratios.firstOverAfterRestart.median.toFixed(1)}x`,
        met: ratios.firstOverAfterRestart.median >= SPEEDUP_AIM,
      },
      {
        aim: `after a restart at least ${SPEEDUP_AIM}x faster, asked the moment the chat opens (the read-ahead still running)`,
        measured: `${ratios.firstOverAfterRestartAtOnce.median.toFixed(1)}x`,
        met: ratios.firstOverAfterRestartAtOnce.median >= SPEEDUP_AIM,
      },
      {
        aim: "the first question's prefill at the engine's speed (the app's engine process against the engine alone)",
        measured: `${ratios.prefillSpeed.median.toFixed(2)}x`,
        met: ratios.prefillSpeed.median >= 1 - OVERHEAD_AIM,
      },
      {
        aim: `extraction and templating at most ${pct(OVERHEAD_AIM)}: attaching plus the app's time before its engine's first token, over that engine's TTFT`,
        measured: `${pct(appSide.median)} (attach alone ${pct(attach.median)} of the prefill)`,
        met: appSide.median <= OVERHEAD_AIM,
      },
    ],
    checks: [
      every('the first question starts from no other cache', (r) => r.first.reusedTokens < MIN_SEED_TOKENS, (r) => `${r.first.reusedTokens} reused`),
      every('the app and the engine alone prefill the same prompt', (r) => r.first.promptTokens === r.engine.promptTokens, (r) => `${r.first.promptTokens} / ${r.engine.promptTokens}`),
      every('the first question reports prefill progress', (r) => r.first.prefillReports > 0, (r) => `${r.first.prefillReports} events`),
      every('the follow-up reuses the first prompt', (r) => r.followUp.reusedTokens >= r.first.promptTokens, (r) => `${r.followUp.reusedTokens} of ${r.followUp.promptTokens} reused`),
      every(
        'after the restart the snapshot holds the whole chat',
        (r) => r.afterRestart.reusedTokens >= r.followUp.promptTokens,
        (r) => `${r.afterRestart.reusedTokens} of ${r.afterRestart.promptTokens} reused (follow-up prompt ${r.followUp.promptTokens})`,
      ),
      every(
        'asked the moment it opens, the other chat is restored whole too',
        (r) => r.afterRestartAtOnce.reusedTokens >= r.newChat.promptTokens,
        (r) => `${r.afterRestartAtOnce.reusedTokens} of ${r.afterRestartAtOnce.promptTokens} reused (its prompt before ${r.newChat.promptTokens})`,
      ),
      every(
        "a new chat with the document is seeded from the first chat's cache",
        (r) => r.newChat.reusedTokens >= r.document.tokens,
        (r) => `${r.newChat.reusedTokens} of ${r.newChat.promptTokens} reused (document ${r.document.tokens})`,
      ),
    ],
  }
}

export function renderDocumentMarkdown(r: DocumentReport): string {
  const m = r.machine
  const row = (name: string, t: Spread, steps: Step[], note = ''): string => {
    const mid = (f: (s: Step) => number): string => median(steps.map(f)).toFixed(0)
    return (
      `| ${name} | ${t.median.toFixed(0)} | ${t.min.toFixed(0)}-${t.max.toFixed(0)} | ${mid((s) => s.ttftMs - s.engineTtftMs)} | ${mid((s) => s.engineTtftMs - s.prefillMs)} | ` +
      `${mid((s) => s.prefillMs)} | ${mid((s) => s.promptTokens)} | ${mid((s) => s.reusedTokens)} | ${mid((s) => s.prefillTokensPerSecond)} | ${note} |`
    )
  }
  const steps = (f: (round: Round) => Step): Step[] => r.rounds.map(f)
  const x = (s: Spread): string => `${s.median.toFixed(1)}x (${s.min.toFixed(1)}-${s.max.toFixed(1)})`
  const pct = (s: Spread): string => `${(s.median * 100).toFixed(1)}% (${(s.min * 100).toFixed(1)} to ${(s.max * 100).toFixed(1)})`
  const engineRate = median(steps((round) => round.engine).map((s) => s.prefillTokensPerSecond))
  const appRate = median(steps((round) => round.first).map((s) => s.prefillTokensPerSecond))
  const docTokens = median(r.rounds.map((round) => round.document.tokens))
  return [
    '# Chat with a document',
    '',
    `${m.date}, ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ${m.platform}, Node ${m.node}, onnxruntime-node ${m.onnxruntime}, ` +
      `load average ${m.loadAverage.start.toFixed(1)} at the start and ${m.loadAverage.end.toFixed(1)} at the end. ` +
      `A random-weight model of the ${r.model.shape} shape (${(r.model.parameters / 1e6).toPrecision(3)}M parameters), ${r.model.provider} ${r.model.variant}, ${r.model.threads} threads. ` +
      `The whole app (createApp in browser mode, its engine process, KV snapshots in its data dir), ${r.rounds.length} rounds, each with its own ` +
      `Markdown document of ~${docTokens.toFixed(0)} tokens attached, ${r.options.replyTokens}-token replies; every figure is from this one run. ` +
      'Time to first token: from `api.send` to the reply\'s first `token` event; the engine alone is `Engine#generate` in the bench\'s process on the ' +
      'first question\'s exact messages (the two take turns going first).',
    '',
    '| step | TTFT ms (median) | spread | app before the engine, ms | engine before prefill, ms | prefill ms | prompt tokens | reused | prefill tok/s | |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    row('first question', r.ttftMs.first, steps((round) => round.first), `attach ${r.attachMs.median.toFixed(0)} ms (${r.attachMs.min.toFixed(0)}-${r.attachMs.max.toFixed(0)})`),
    row('engine alone, same prompt', r.ttftMs.engine, steps((round) => round.engine)),
    row('follow-up', r.ttftMs.followUp, steps((round) => round.followUp), x(r.ratios.firstOverFollowUp)),
    row(
      'after a restart, the chat opened first',
      r.ttftMs.afterRestart,
      steps((round) => round.afterRestart),
      `${x(r.ratios.firstOverAfterRestart)}; read ahead in ${r.readAheadMs.median.toFixed(0)} ms (${r.readAheadMs.min.toFixed(0)}-${r.readAheadMs.max.toFixed(0)}) of opening; ` +
        `with the model's load ${r.ttftMs.afterRestartWithLoad.median.toFixed(0)} ms, ${x(r.ratios.firstOverAfterRestartWithLoad)}`,
    ),
    row('after a restart, asked the moment it opens', r.ttftMs.afterRestartAtOnce, steps((round) => round.afterRestartAtOnce), x(r.ratios.firstOverAfterRestartAtOnce)),
    row('new chat, same document', r.ttftMs.newChat, steps((round) => round.newChat), x(r.ratios.firstOverNewChat)),
    '',
    'Medians over the rounds. "App before the engine" is the wall time less the engine\'s own time to first token (`GenerationStats.ttftMs`): the call, ' +
      'the model lookup, settling the documents, rendering, and the messages to and from the engine process. "Engine before prefill" is its time ' +
      'to first token less the prefill: tokenizing, and the cache (a snapshot read, a prefix copied). ' +
      `The ratios are the first question's TTFT over the step's, medians of the rounds' (range). The restart closes the app (its caches ` +
      'written to snapshots) and opens it again on the same data dir; the model is loaded first, and the load is shown beside it. Opening a chat ' +
      '(`getConversation`, as the UI does) has the engine read its cache from the snapshot ahead of the question: the first chat is asked once that ' +
      'read is done (a user reading or typing), the new chat the moment it opens, so its question waits behind the read. ' +
      `The app's overhead, judged in the aims from one reply's own figures: attaching plus the app's time before its engine's first token, over that engine's TTFT, ${pct(r.overhead.appSide)}. ` +
      `Against the engine alone (paired by round, so the prefills' own variation is in it): the app's TTFT ${pct(r.overhead.templating)}, with attaching ${pct(r.overhead.total)}.`,
    '',
    `Roofline: fp32 matmul ${(r.roofline.matmulFlopsPerSecond / 1e9).toFixed(0)} GFLOP/s here gives a prefill bound of ${r.roofline.prefillTokensPerSecond.toFixed(0)} tok/s ` +
      `(2 FLOP per projection weight per token, the least a token needs); the engine alone prefilled at ${engineRate.toFixed(0)} tok/s (${((engineRate / r.roofline.prefillTokensPerSecond) * 100).toFixed(0)}%), ` +
      `the app's first question at ${appRate.toFixed(0)} tok/s (${((appRate / r.roofline.prefillTokensPerSecond) * 100).toFixed(0)}%). The bound leaves out attention, which grows with the prompt.`,
    '',
    '| aim | measured | met |',
    '|---|---|---|',
    ...r.aims.map((a) => `| ${a.aim} | ${a.measured} | ${a.met ? 'yes' : '**no**'} |`),
    '',
    '| check | holds | per round |',
    '|---|---|---|',
    ...r.checks.map((c) => `| ${c.name} | ${c.ok ? 'yes' : '**no**'} | ${c.detail} |`),
    '',
  ].join('\n')
}

function ms(n: number): string {
  return `${n.toFixed(0)} ms`
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}
