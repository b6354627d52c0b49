// `npm run bench -- turns [--json FILE]`: time to first token per turn of a long chat, with the
// conversation's KV cache reused and with the whole history prefilled again, in one run.

import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Engine } from '../../src-main/engine/engine.ts'
import { DEFAULT_PARAMS, type ChatMessage, type GenerationParams } from '../../src-shared/types.ts'
import { buildModel, SHAPES, type ShapeName } from '../model-builder/build-model.ts'

const CACHE = fileURLToPath(new URL('../../.cache/bench/', import.meta.url))
/** Bumped whenever the model builder changes the weights it writes, so cached models are rebuilt. */
const BUILDER_REVISION = 3

const USAGE = `usage: npm run bench -- turns [options]
  --shape NAME        smollm2-135m (default), qwen2.5-0.5b or tiny: a random-weight model of that shape
  --model DIR         an existing model folder instead
  --turns N           chat turns (default 20)
  --reply-tokens N    tokens per reply (default 32)
  --threads N         engine threads (default: the engine's)
  --json FILE         write { turns: [{ turn, promptTokens, reusedTokens, ttftMsReuse, ttftMsFull }] }`

export interface TurnRow {
  turn: number
  promptTokens: number
  reusedTokens: number
  ttftMsReuse: number
  ttftMsFull: number
}

export interface TurnsReport {
  model: string
  threads: number
  replyTokens: number
  turns: TurnRow[]
  /** ttftMsFull / ttftMsReuse at the last turn; the aim is at least 10. */
  lastTurnSpeedup: number
  /** ttftMsReuse at the last turn / at turn 2; the aim is at most 1.5. */
  lastVsSecondReuse: number
}

const QUESTIONS = [
  'What is the capital of France, and why did it become the capital?',
  'How many legs does a spider have?',
  'Write a short poem about the sea, the waves and the wind over the water at night.',
  'Explain how a computer stores numbers.',
  'Which is larger, the sun or the moon, and by how much?',
  'Give me three tips for writing clear code that other people can read and change.',
  'Why is the sky blue?',
  'Summarise what we talked about so far in two sentences.',
]

/** Runs the bench; prints a table and writes JSON when asked. Returns nothing (main prints results). */
export async function runTurnsBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      shape: { type: 'string' },
      model: { type: 'string' },
      turns: { type: 'string' },
      'reply-tokens': { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  const int = (name: string, value: string | undefined, fallback: number): number => {
    const n = value === undefined ? fallback : Number(value)
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer\n${USAGE}`)
    return n
  }
  const turns = int('turns', values.turns, 20)
  const replyTokens = int('reply-tokens', values['reply-tokens'], 32)
  const shape = (values.shape ?? 'smollm2-135m') as ShapeName
  if (!(shape in SHAPES)) throw new Error(`unknown --shape ${shape}\n${USAGE}`)
  const modelDir = values.model ?? (await benchModel(shape))

  const engine = new Engine()
  const info = await engine.load(modelDir, {
    providers: ['cpu'],
    ...(values.threads ? { threads: int('threads', values.threads, 1) } : {}),
  })
  console.error(`turns: ${modelDir} (${info.variant}, ${info.threads} threads), ${turns} turns of ${replyTokens} reply tokens`)
  const reuseParams: GenerationParams = { ...DEFAULT_PARAMS, temperature: 0, repetitionPenalty: 1, maxTokens: replyTokens }
  // Only the time to the first token is compared, so the full re-prefill stops right there.
  const fullParams: GenerationParams = { ...reuseParams, maxTokens: 1 }

  const rows: TurnRow[] = []
  const messages: ChatMessage[] = [{ role: 'system', content: 'You are a helpful assistant. Answer briefly.' }]
  try {
    for (let turn = 1; turn <= turns; turn++) {
      messages.push({ role: 'user', content: QUESTIONS[(turn - 1) % QUESTIONS.length]! })
      const reuse = await engine.generate({ conversationId: 'reuse', messages, params: reuseParams }, () => {}, () => false)
      await engine.dropCache('full')
      const full = await engine.generate({ conversationId: 'full', messages, params: fullParams }, () => {}, () => false)
      const row: TurnRow = {
        turn,
        promptTokens: reuse.stats.promptTokens,
        reusedTokens: reuse.stats.reusedTokens,
        ttftMsReuse: round(reuse.stats.ttftMs),
        ttftMsFull: round(full.stats.ttftMs),
      }
      rows.push(row)
      console.error(
        `turn ${String(turn).padStart(2)}: ${String(row.promptTokens).padStart(5)} prompt tokens, ` +
          `${String(row.reusedTokens).padStart(5)} reused, first token ${row.ttftMsReuse.toFixed(0).padStart(6)} ms ` +
          `with reuse, ${row.ttftMsFull.toFixed(0).padStart(6)} ms from scratch`,
      )
      messages.push({ role: 'assistant', content: reuse.text })
    }
  } finally {
    await engine.unload()
  }

  const last = rows[rows.length - 1]!
  const second = rows[1] ?? last
  const report: TurnsReport = {
    model: modelDir,
    threads: info.threads,
    replyTokens,
    turns: rows,
    lastTurnSpeedup: round(last.ttftMsFull / last.ttftMsReuse),
    lastVsSecondReuse: round(last.ttftMsReuse / second.ttftMsReuse),
  }
  console.log(
    `turn ${last.turn}: ${report.lastTurnSpeedup}x faster to the first token with reuse (aim: at least 10x); ` +
      `turn ${last.turn} with reuse takes ${report.lastVsSecondReuse}x turn 2's (aim: at most 1.5x)`,
  )
  if (values.json) {
    await mkdir(path.dirname(path.resolve(values.json)), { recursive: true })
    await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`)
    console.log(`wrote ${values.json}`)
  }
}

/** A random-weight model of the shape, built once into .cache/bench (num_logits_to_keep on). */
async function benchModel(shape: ShapeName): Promise<string> {
  const dir = path.join(CACHE, `turns-${shape}`)
  const stamp = path.join(dir, 'turns-stamp.json')
  const want = JSON.stringify({ shape, logitsToKeep: true, builder: BUILDER_REVISION })
  if (existsSync(stamp) && (await readFile(stamp, 'utf8')) === want) return dir
  console.error(`turns: building a random-weight ${shape} in ${dir}`)
  await buildModel(dir, { shape, logitsToKeep: true })
  await writeFile(stamp, want)
  return dir
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}
