// `npm run chat -- --model DIR [options] "prompt"`: one reply from a local model, streamed, with stats.

import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { Engine } from '../src-main/engine/engine.ts'
import { readModelConfig } from '../src-main/model-format/model-config.ts'
import { AppError } from '../src-shared/errors.ts'
import { resolveParams } from '../src-shared/params.ts'
import type { ChatMessage, GenerationParams, ProviderName, VariantName } from '../src-shared/types.ts'

const USAGE = `usage: npm run chat -- --model DIR [options] "prompt"
Sampling: a flag left out takes the model's generation_config.json value, else no cut and no
penalty (temperature 0.7). --temperature 0 alone is plain argmax, whatever the model's recipe.
  --temperature T         0 is greedy
  --top-k N               keep the N likeliest tokens; 0 turns it off
  --top-p P               keep the likeliest tokens up to mass P, 0 < P <= 1; 1 turns it off
  --min-p P               drop tokens below P times the likeliest one's probability, 0..1; 0 turns it off
  --repetition-penalty R  > 0; 1 turns it off
  --seed S                same seed, same reply
  --max-tokens N          default 256
Speculative decoding (on by default; the reply is the same either way, only its speed changes):
  --no-speculate          decode one token per pass, to compare speeds
  --prediction FILE       text the reply should be close to (as the API's Predicted Outputs): drafted from first
  --draft-model DIR       a smaller model with the same vocabulary that drafts tokens
Other:
  --system TEXT           a system prompt
  --variant NAME          fp32, q4, q8, ... (default: the best for the provider)
  --provider NAME         try only this execution provider (cpu, webgpu, cuda, dml, coreml)
  --json                  print one JSON object instead of streaming (stats.speculation: drafted,
                          accepted, passes, sources; null when nothing was drafted)`

const FLAGS = {
  model: { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
  'max-tokens': { type: 'string' },
  system: { type: 'string' },
  variant: { type: 'string' },
  provider: { type: 'string' },
  'no-speculate': { type: 'boolean' },
  prediction: { type: 'string' },
  'draft-model': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const

function fail(message: string, code = 2): never {
  console.error(message)
  process.exit(code)
}

function parseFlags() {
  try {
    return parseArgs({ allowPositionals: true, options: FLAGS })
  } catch (err) {
    // An unknown flag, or a value that looks like a flag (--temperature -1: write --temperature=-1).
    return fail(`${(err as Error).message}\n${USAGE}`)
  }
}

const { values, positionals } = parseFlags()

/** The flag's value when given; exits with the usage when it is not a number in range. */
function number(name: keyof typeof values, range: string, fits: (n: number) => boolean): number | undefined {
  const value = values[name]
  if (typeof value !== 'string') return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || !fits(n)) fail(`--${name} must be ${range} (got "${value}")\n${USAGE}`)
  return n
}

if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
const prompt = positionals.join(' ')
if (!values.model || !prompt) fail(USAGE)

const isCount = (n: number): boolean => Number.isInteger(n) && n >= 0
// Only what was given: the engine takes the rest from the model ([TAG_PARAM_PRECEDENCE]).
const asked: Partial<GenerationParams> = Object.fromEntries(
  Object.entries({
    temperature: number('temperature', 'a number >= 0', (n) => n >= 0),
    topK: number('top-k', 'an integer >= 0', isCount),
    topP: number('top-p', 'a number in (0, 1]', (n) => n > 0 && n <= 1),
    minP: number('min-p', 'a number in [0, 1]', (n) => n >= 0 && n <= 1),
    repetitionPenalty: number('repetition-penalty', 'a number > 0', (n) => n > 0),
    seed: number('seed', 'an integer >= 0', isCount),
    maxTokens: number('max-tokens', 'an integer >= 1', (n) => isCount(n) && n >= 1) ?? 256,
  }).filter(([, v]) => v !== undefined),
)
const prediction = values.prediction === undefined ? undefined : await readFile(values.prediction, 'utf8').catch((err: Error) => fail(`--prediction: ${err.message}`))
const messages: ChatMessage[] = [
  ...(values.system ? [{ role: 'system' as const, content: values.system }] : []),
  { role: 'user', content: prompt },
]

const engine = new Engine()
try {
  const info = await engine.load(values.model, {
    ...(values.variant ? { variant: values.variant as VariantName } : {}),
    ...(values.provider ? { providers: [values.provider as ProviderName] } : {}),
    ...(values['draft-model'] ? { draftModelDir: values['draft-model'] } : {}),
  })
  const stream = values.json ? () => {} : (text: string) => process.stdout.write(text)
  const speculate = values['no-speculate'] !== true
  const result = await engine.generate({ messages, params: asked, speculate, ...(prediction === undefined ? {} : { prediction }) }, stream, () => false)
  const s = result.stats
  if (values.json) {
    const { temperature, topK, topP, minP, repetitionPenalty } = resolveParams(asked, (await readModelConfig(values.model)).generationDefaults)
    console.log(
      JSON.stringify({
        text: result.text,
        tokens: result.tokens.length,
        stats: {
          promptTokens: s.promptTokens,
          reusedTokens: s.reusedTokens,
          ttftMs: s.ttftMs,
          prefillTokensPerSecond: s.prefillTokensPerSecond,
          decodeTokensPerSecond: s.decodeTokensPerSecond,
          stopReason: s.stopReason,
          provider: s.provider,
          speculation: s.speculation ?? null,
        },
        // What sampled: the flags over the model's generation_config.json over the neutral defaults.
        params: { temperature, topK, topP, minP, repetitionPenalty },
        model: {
          variant: info.variant,
          provider: info.provider,
          kvUpdate: info.kvUpdate,
          kvUpdateNotes: info.kvUpdateNotes,
          fusions: info.fusions,
          speculation: info.speculation,
        },
      }),
    )
  } else {
    const skipped = info.providerAttempts.filter((a) => !a.ok).map((a) => `${a.provider}: ${a.reason}`)
    console.log(
      `\n\n[${info.variant} on ${s.provider}, ${info.threads} threads] ${s.promptTokens} prompt tokens, ` +
        `prefill ${s.prefillTokensPerSecond.toFixed(1)} tok/s, first token ${s.ttftMs.toFixed(0)} ms, ` +
        `${s.generatedTokens} tokens at ${s.decodeTokensPerSecond.toFixed(1)} tok/s, stop: ${s.stopReason}`,
    )
    if (s.speculation) {
      const { drafted, accepted, passes, sources } = s.speculation
      console.log(`[speculation] ${accepted} of ${drafted} drafted tokens accepted in ${passes} passes (${sources.join(', ')})`)
    }
    if (!info.speculation.available) console.log(`[no speculation] ${info.speculation.reason ?? 'this model cannot verify drafted tokens'}`)
    if (info.speculation.draftModelError) console.log(`[no draft model] ${info.speculation.draftModelError}`)
    for (const line of skipped) console.log(`[not used] ${line}`)
  }
} catch (err) {
  const e = AppError.toData(err)
  fail(`${e.code}: ${e.message}`, 1)
} finally {
  await engine.unload()
}
