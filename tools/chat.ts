// `npm run chat -- --model DIR [options] "prompt"`: one reply from a local model, streamed, with stats.

import { parseArgs } from 'node:util'
import { Engine } from '../src-main/engine/engine.ts'
import { AppError } from '../src-shared/errors.ts'
import { DEFAULT_PARAMS, type ChatMessage, type ProviderName, type VariantName } from '../src-shared/types.ts'

const USAGE = `usage: npm run chat -- --model DIR [options] "prompt"
  --temperature T   0 is greedy (default ${DEFAULT_PARAMS.temperature})
  --seed S          same seed, same reply
  --max-tokens N    default 256
  --system TEXT     a system prompt
  --variant NAME    fp32, q4, q8, ... (default: the best for the provider)
  --provider NAME   try only this execution provider (cpu, webgpu, cuda, dml, coreml)
  --json            print one JSON object instead of streaming`

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string' },
    temperature: { type: 'string' },
    seed: { type: 'string' },
    'max-tokens': { type: 'string' },
    system: { type: 'string' },
    variant: { type: 'string' },
    provider: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  },
})

function fail(message: string, code = 2): never {
  console.error(message)
  process.exit(code)
}

function number(name: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) fail(`--${name} must be a non-negative ${integer ? 'integer' : 'number'}\n${USAGE}`)
  return n
}

if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
const prompt = positionals.join(' ')
if (!values.model || !prompt) fail(USAGE)

const params = {
  ...DEFAULT_PARAMS,
  temperature: number('temperature', values.temperature, false) ?? DEFAULT_PARAMS.temperature,
  seed: number('seed', values.seed, true) ?? null,
  maxTokens: number('max-tokens', values['max-tokens'], true) ?? 256,
}
const messages: ChatMessage[] = [
  ...(values.system ? [{ role: 'system' as const, content: values.system }] : []),
  { role: 'user', content: prompt },
]

const engine = new Engine()
try {
  const info = await engine.load(values.model, {
    ...(values.variant ? { variant: values.variant as VariantName } : {}),
    ...(values.provider ? { providers: [values.provider as ProviderName] } : {}),
  })
  const stream = values.json ? () => {} : (text: string) => process.stdout.write(text)
  const result = await engine.generate({ messages, params }, stream, () => false)
  const s = result.stats
  if (values.json) {
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
    for (const line of skipped) console.log(`[not used] ${line}`)
  }
} catch (err) {
  const e = AppError.toData(err)
  fail(`${e.code}: ${e.message}`, 1)
} finally {
  await engine.unload()
}
