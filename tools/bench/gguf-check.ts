// `npm run bench -- gguf-check`: the GGUF importer against the ONNX model a GGUF was written from.
// The bench's writer (llama-gguf.ts) turns its random-weight models at the SmolLM2-135M and
// Qwen2.5-0.5B shapes into F32 and Q4_0 GGUFs; each is imported (convertGguf) and run beside the
// ONNX it came from: greedy tokens, then logits position by position over the same tokens.

import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { loadModel } from '../../src-main/engine/load-model.ts'
import type { ModelSession } from '../../src-main/engine/session.ts'
import { convertGguf } from '../../src-main/models/gguf/convert.ts'
import type { ConversionInfo, VariantName } from '../../src-shared/types.ts'
import type { ShapeName } from '../model-builder/build-model.ts'
import { prepareModels } from './models.ts'
import { readOnnxWeights } from './onnx-weights.ts'

/** A chat prompt, then text the greedy reply would not write: logits compared on varied input. */
const PROMPT = 'Write a haiku about the sea.'
const FORCED_TEXT = ' The quick brown fox jumps over 13 lazy dogs; naïve café owners count €42, then ask: why?'

export interface LogitsComparison {
  /** Greedy tokens after the prompt, of the reference and of the model compared with it. */
  referenceTokens: number[]
  tokens: number[]
  /** Positions compared: prompt, the reference's greedy tokens and FORCED_TEXT, fed to both. */
  positions: number
  /** Share of positions whose argmax is the same. */
  top1Agreement: number
  maxAbsDiff: number
  /** max |logit| of the reference. */
  logitScale: number
  /** RMS of the difference over the RMS of the reference's logits. */
  relRms: number
}

export interface GgufCheck extends LogitsComparison {
  shape: string
  gguf: string
  conversion: ConversionInfo
  convertSeconds: number
  /** What the import must meet, and whether it did. */
  bound: string
  ok: boolean
}

const argmax = (row: Float32Array): number => {
  let best = 0
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i
  return best
}

/** Wraps a session so its logits have `bias` ([vocab]) added: the lm_head.bias a GGUF cannot hold. */
function withBias(session: ModelSession, bias: Float32Array | null): Pick<ModelSession, 'emptyCache' | 'forward'> {
  if (!bias) return session
  return {
    emptyCache: () => session.emptyCache(),
    forward: async (kv, tokens, opts) => {
      const logits = await session.forward(kv, tokens, opts)
      for (let i = 0; i < logits.length; i++) logits[i]! += bias[i % bias.length]!
      return logits
    },
  }
}

/** `steps` argmax tokens after `prompt`: no sampler, no penalty, nothing between logits and token. */
export async function greedy(session: Pick<ModelSession, 'emptyCache' | 'forward'>, prompt: number[], steps: number): Promise<number[]> {
  const kv = session.emptyCache()
  try {
    let logits = await session.forward(kv, prompt, { logits: 'last' })
    const ids: number[] = []
    while (ids.length < steps) {
      ids.push(argmax(logits))
      if (ids.length < steps) logits = await session.forward(kv, [ids.at(-1)!], { logits: 'last' })
    }
    return ids
  } finally {
    kv.dispose()
  }
}

async function allLogits(session: Pick<ModelSession, 'emptyCache' | 'forward'>, tokens: number[]): Promise<Float32Array> {
  const kv = session.emptyCache()
  try {
    return await session.forward(kv, tokens, { logits: 'all' })
  } finally {
    kv.dispose()
  }
}

/** A model folder and the variant of it to load (default: the best for the CPU). */
export interface Subject {
  dir: string
  variant?: VariantName
  /** Added to its logits: the reference's lm_head.bias when it came through a GGUF, which has no tensor for it. */
  bias?: Float32Array | null
}

/** Runs `model` beside `reference` on the same tokens, one loaded at a time. */
export async function compareLogits(reference: Subject, model: Subject, steps: number): Promise<LogitsComparison> {
  const load = (s: Subject) => loadModel(s.dir, { providers: ['cpu'], ...(s.variant ? { variant: s.variant } : {}) })
  const first = await load(reference)
  let prompt: number[]
  let referenceTokens: number[]
  let sequence: number[]
  let expected: Float32Array
  try {
    prompt = first.tokenizer.encodeChat([{ role: 'user', content: PROMPT }], { addGenerationPrompt: true })
    referenceTokens = await greedy(withBias(first.session, reference.bias ?? null), prompt, steps)
    sequence = [...prompt, ...referenceTokens, ...first.tokenizer.encode(FORCED_TEXT)]
    expected = await allLogits(withBias(first.session, reference.bias ?? null), sequence)
  } finally {
    await first.session.release()
  }
  const second = await load(model)
  try {
    // A converted tokenizer must read the prompt as the original does.
    const own = second.tokenizer.encodeChat([{ role: 'user', content: PROMPT }], { addGenerationPrompt: true })
    if (own.join() !== prompt.join()) throw new Error(`${model.dir}: the prompt tokenizes to ${own.length} tokens, not the reference's ${prompt.length}`)
    const session = withBias(second.session, model.bias ?? null)
    const tokens = await greedy(session, prompt, steps)
    return { referenceTokens, tokens, ...diff(expected, await allLogits(session, sequence), second.session.vocab) }
  } finally {
    await second.session.release()
  }
}

function diff(expected: Float32Array, got: Float32Array, vocab: number): Omit<LogitsComparison, 'referenceTokens' | 'tokens'> {
  const positions = expected.length / vocab
  let agree = 0
  let maxAbsDiff = 0
  let logitScale = 0
  let squaredDiff = 0
  let squared = 0
  for (let p = 0; p < positions; p++) {
    const a = expected.subarray(p * vocab, (p + 1) * vocab)
    const b = got.subarray(p * vocab, (p + 1) * vocab)
    if (argmax(a) === argmax(b)) agree++
    for (let i = 0; i < vocab; i++) {
      const d = a[i]! - b[i]!
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(d))
      logitScale = Math.max(logitScale, Math.abs(a[i]!))
      squaredDiff += d * d
      squared += a[i]! * a[i]!
    }
  }
  return { positions, top1Agreement: agree / positions, maxAbsDiff, logitScale, relRms: Math.sqrt(squaredDiff / squared) }
}

/** Imports `ggufFile` into a folder under `workDir` and compares it with the fp32 ONNX of `sourceDir`. */
export async function checkGguf(sourceDir: string, ggufFile: string, workDir: string, steps: number): Promise<Omit<GgufCheck, 'shape' | 'bound' | 'ok'>> {
  const dir = path.join(workDir, path.basename(ggufFile, '.gguf'))
  const started = performance.now()
  const conversion = await convertGguf(ggufFile, dir, { precision: 'source' })
  const convertSeconds = (performance.now() - started) / 1000
  const { logitBias } = readOnnxWeights(path.join(sourceDir, 'onnx', 'model.onnx'))
  try {
    const compared = await compareLogits({ dir: sourceDir, variant: 'fp32' }, { dir, bias: logitBias }, steps)
    return { gguf: path.basename(ggufFile), conversion, convertSeconds, ...compared }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SHAPES: ShapeName[] = ['smollm2-135m', 'qwen2.5-0.5b']

export interface GgufCheckReport {
  checks: GgufCheck[]
  /** The bench's own int4 ONNX (model_q4.onnx) against its fp32: what 4 bits cost without a GGUF. */
  onnxQ4: (LogitsComparison & { shape: string })[]
}

export async function runGgufCheck(args: string[]): Promise<GgufCheckReport> {
  const { values } = parseArgs({ args, options: { models: { type: 'string' }, cache: { type: 'string' }, steps: { type: 'string' } } })
  const shapes = values.models ? (values.models.split(',') as ShapeName[]) : SHAPES
  const unknown = shapes.filter((s) => !SHAPES.includes(s))
  if (unknown.length > 0) throw new Error(`--models: unknown ${unknown.join(', ')} (choose from ${SHAPES.join(', ')})`)
  const cache = path.resolve(values.cache ?? path.join(ROOT, '.cache', 'bench', 'models'))
  const steps = Number(values.steps ?? 20)
  const log = (line: string): void => console.error(`[gguf-check] ${line}`)
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'hearth-gguf-check-'))
  const report: GgufCheckReport = { checks: [], onnxQ4: [] }
  try {
    for (const shape of shapes) {
      // The bench's own models and GGUFs, built once and kept in its cache.
      const models = await prepareModels(cache, shape, ['fp32', 'q4'], false, log)
      const dir = models[0]!.dir
      const onnxQ4 = { shape, ...(await compareLogits({ dir, variant: 'fp32' }, { dir, variant: 'q4' }, steps)) }
      report.onnxQ4.push(onnxQ4)
      for (const model of models) {
        log(`importing ${path.basename(model.ggufFile)} (${shape})`)
        const check = await checkGguf(model.dir, model.ggufFile, workDir, steps)
        const judged = { shape, ...check, ...judge(check, onnxQ4.relRms) }
        log(`${judged.gguf}: ${judged.ok ? 'ok' : 'FAILED'} (${judged.bound}): top-1 ${(100 * check.top1Agreement).toFixed(1)}%, ` +
          `max |Δ| ${check.maxAbsDiff.toPrecision(3)} at scale ${check.logitScale.toPrecision(3)}, rel. RMS ${check.relRms.toPrecision(3)}`)
        report.checks.push(judged)
      }
    }
    if (report.checks.some((c) => !c.ok)) process.exitCode = 1
    return report
  } finally {
    await rm(workDir, { recursive: true, force: true })
  }
}

/**
 * F32 must give the ONNX model's greedy tokens and its logits to fp32 rounding. A quantized GGUF
 * carries its own 4-bit error and the import must add none: its logits may be off by as much as
 * the bench's int4 ONNX of the same model (`onnxQ4RelRms`), with a quarter more for luck.
 */
function judge(check: LogitsComparison & { conversion: ConversionInfo }, onnxQ4RelRms: number): { bound: string; ok: boolean } {
  if (check.conversion.variant === 'fp32') {
    const ok = check.tokens.join() === check.referenceTokens.join() && check.top1Agreement === 1 && check.maxAbsDiff <= 1e-5 * check.logitScale
    return { bound: 'greedy tokens equal, every argmax equal, max |Δ| <= 1e-5 of the scale', ok }
  }
  const limit = 1.25 * onnxQ4RelRms
  return { bound: `rel. RMS <= ${limit.toPrecision(3)} (1.25x the int4 ONNX's)`, ok: check.relRms <= limit && check.conversion.requantizedTensors === 0 }
}
