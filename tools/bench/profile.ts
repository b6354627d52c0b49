// `npm run bench -- profile`: where a Hearth decode step's time goes at long contexts (kernels by
// op, the run's time outside kernels, the engine's own overhead), what each session setting and
// an fp16 cache change, and the prefill levers (last-position logits, chunk size).

import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { buildModel, type BuildOptions, type ShapeName } from '../model-builder/build-model.ts'
import { runInChild } from './jobs.ts'
import { EXPORT_PATTERNS, prepareModels } from './models.ts'
import { defaultThreads } from './roofline.ts'
import { DEFAULT_PREFILL_CHUNK } from '../../src-main/model-format/memory-estimate.ts'
import type { Precision } from './models.ts'
import type { EngineProfileResult, PhaseProfile, PrefillLeverResult, ProfileMessage, ProfileResult } from './run-profile.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CACHE = path.join(ROOT, '.cache', 'bench')
const RUNNER = fileURLToPath(new URL('./run-profile.ts', import.meta.url))

interface ProfileReport {
  model: string
  threads: number
  decode: ProfileResult[]
  prefill: PrefillLeverResult | null
  failures: string[]
}

/** A variant of the bench model, built once (no GGUF: the profile runs Hearth only). */
async function variantDir(shape: ShapeName, suffix: string, opts: Partial<BuildOptions>): Promise<string> {
  const dir = path.join(CACHE, 'models', `${shape}-profile-${suffix}`)
  const stamp = path.join(dir, 'profile-stamp')
  const wanted = `${suffix} as-exported ${EXPORT_PATTERNS}`
  if (!existsSync(stamp) || (await readFile(stamp, 'utf8')) !== wanted) {
    console.log(`building ${shape} (${suffix}) in ${dir}`)
    await buildModel(dir, { shape, repeatKv: true, exportedRmsNorm: true, exportedRope: true, additiveMask: true, ...opts })
    await writeFile(stamp, wanted)
  }
  return dir
}

const ms = (x: number): string => x.toFixed(1)

function phaseLines(title: string, p: PhaseProfile): string[] {
  return [
    `${title}: ${ms(p.wallMs)} ms in JS (profiled) = onnxruntime's model_run ${ms(p.modelRunMs)} ms + the binding and the engine ` +
      `${ms(p.wallMs - p.modelRunMs)} ms; model_run = kernels ${ms(p.kernelMs)} ms + between kernels ${ms(p.modelRunMs - p.kernelMs)} ms`,
    '',
    '| op | ms per pass | share of kernels |',
    '|---|---:|---:|',
    ...p.kernels.slice(0, 10).map((k) => `| ${k.op} | ${ms(k.ms)} | ${Math.round((100 * k.ms) / p.kernelMs)}% |`),
    '',
  ]
}

export function renderEngineProfile(model: string, threads: number, results: EngineProfileResult[], failures: string[]): string {
  const lines = [
    `# The engine's own session profiled: ${model}, ${threads} threads`,
    '',
    "onnxruntime's profiler on the session loadModel opens (rewritten, fused, verified). It adds ~20 us " +
      'to every kernel, so a profiled pass is longer than an unprofiled one: read the shares.',
    '',
  ]
  for (const r of results) {
    lines.push(
      `## ${r.precision}, ${r.context} tokens prefilled in chunks of ${r.chunk}, then decode`,
      '',
      `KV update '${r.kvUpdate}'; int8 activations ${r.int8Activations ? 'on' : 'off'}; fused: ${r.fusions.join(', ') || 'nothing'}.`,
      '',
      ...phaseLines(`A prefill chunk of ${r.chunk} tokens`, r.prefillChunk),
      ...phaseLines(`A decode step at ${r.context}`, r.decode),
    )
  }
  if (failures.length > 0) lines.push('Failed:', ...failures.map((f) => `- ${f}`), '')
  return lines.join('\n')
}

export function renderProfile(r: ProfileReport): string {
  const lines = [`# Decode-step profile: ${r.model}, ${r.threads} threads`, '']
  for (const d of r.decode) {
    lines.push(
      `## context ${d.context}, ${d.kvDtype} KV (${(d.kvBytes / 2 ** 20).toFixed(0)} MiB of past + present per step)`,
      '',
      `- engine step (ModelSession#forward, KV update '${d.engineKvUpdate}'): ${ms(d.engineStepMs)} ms; ` +
        `the same step on the export as it is ('copy'): ${ms(d.copyStepMs)} ms (${(d.copyStepMs / d.engineStepMs).toFixed(2)}x)`,
      `- fused at load: ${d.engineFusions.join(', ') || 'nothing'}; the same step with nothing fused: ${ms(d.unfusedStepMs)} ms (${(d.unfusedStepMs / d.engineStepMs).toFixed(2)}x)`,
      `- below, the export as it is: session.run alone ${ms(d.runMs)} ms`,
      `- profiled run: ${ms(d.profiledWallMs)} ms in JS = onnxruntime model_run ${ms(d.modelRunMs)} ms ` +
        `+ binding ${ms(d.profiledWallMs - d.modelRunMs)} ms (inputs in, every output copied into a new JS buffer)`,
      `- model_run = kernels ${ms(d.kernelMs)} ms + between kernels ${ms(d.modelRunMs - d.kernelMs)} ms (allocation, scheduling)`,
      `- allocating and filling JS buffers the size of every present.* output, alone: ${ms(d.jsAllocCopyMs)} ms`,
      '',
      '| op | ms per step | share of kernels |',
      '|---|---:|---:|',
      ...d.kernels.slice(0, 8).map((k) => `| ${k.op} | ${ms(k.ms)} | ${Math.round((100 * k.ms) / d.kernelMs)}% |`),
      '',
      '| session variant | run ms | vs engine options |',
      '|---|---:|---:|',
      ...d.variants.map((v) => `| ${v.name} | ${ms(v.runMs)} | ${(d.runMs / v.runMs).toFixed(2)}x |`),
      '',
    )
  }
  if (r.prefill) {
    const p = r.prefill
    lines.push(
      `## prefill ${p.tokens} tokens`,
      '',
      `one run, logits for every position: ${ms(p.allLogitsMs)} ms; last position only: ${ms(p.lastLogitsMs)} ms ` +
        `(${(p.allLogitsMs / p.lastLogitsMs).toFixed(2)}x).`,
      '',
      '| chunk | ms | tok/s |',
      '|---:|---:|---:|',
      ...p.chunked.map((c) => `| ${c.chunk} | ${ms(c.ms)} | ${((p.tokens * 1000) / c.ms).toFixed(0)} |`),
      '',
    )
  }
  if (r.failures.length > 0) lines.push('Failed:', ...r.failures.map((f) => `- ${f}`), '')
  return lines.join('\n')
}

export async function runProfile(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      contexts: { type: 'string' },
      steps: { type: 'string' },
      threads: { type: 'string' },
      'prefill-tokens': { type: 'string' },
      engine: { type: 'boolean' },
      precisions: { type: 'string' },
      json: { type: 'string' },
    },
  })
  const shape = (values.model ?? 'smollm2-135m') as ShapeName
  if (shape !== 'smollm2-135m' && shape !== 'qwen2.5-0.5b') throw new Error(`--model takes smollm2-135m or qwen2.5-0.5b`)
  const contexts = (values.contexts ?? '1024,4096').split(',').map(Number)
  const steps = Number(values.steps ?? 15)
  const threads = Number(values.threads ?? defaultThreads())
  const prefillTokens = Number(values['prefill-tokens'] ?? 512)
  const jsonFile = path.resolve(values.json ?? path.join(CACHE, 'results', 'profile.json'))

  if (values.engine) {
    const precisions = (values.precisions ?? 'q4,fp32').split(',') as Precision[]
    if (precisions.some((p) => p !== 'fp32' && p !== 'q4')) throw new Error('--precisions takes fp32 and q4')
    await profileEngineSessions(shape, precisions, contexts, steps, threads, values.json)
    return
  }
  const [bench] = await prepareModels(path.join(CACHE, 'models'), shape, ['fp32'], false, console.log)
  const fp32 = bench!.dir
  const fp16kv = await variantDir(shape, 'kv-fp16', { kv: 'float16' })
  const ltk = await variantDir(shape, 'logits-to-keep', { logitsToKeep: true })
  const report: ProfileReport = { model: shape, threads, decode: [], prefill: null, failures: [] }
  const timeout = 30 * 60_000
  for (const context of contexts) {
    for (const dir of [fp32, fp16kv]) {
      console.log(`profiling a decode step at ${context} (${path.basename(dir)})`)
      const message: ProfileMessage = { kind: 'decode', job: { modelDir: dir, onnxFile: 'onnx/model.onnx', context, steps, threads } }
      const r = await runInChild<{ ok: true; result: ProfileResult }>(RUNNER, message, timeout)
      if (r.ok) report.decode.push(r.result)
      else report.failures.push(`decode @${context} ${path.basename(dir)}: ${r.error.split('\n')[0]}`)
    }
  }
  console.log(`measuring prefill levers at ${prefillTokens} tokens`)
  const message: ProfileMessage = {
    kind: 'prefill',
    job: { modelDir: ltk, onnxFile: 'onnx/model.onnx', tokens: prefillTokens, chunks: [128, 256, prefillTokens], threads },
  }
  const p = await runInChild<{ ok: true; result: PrefillLeverResult }>(RUNNER, message, timeout)
  if (p.ok) report.prefill = p.result
  else report.failures.push(`prefill: ${p.error.split('\n')[0]}`)

  await mkdir(path.dirname(jsonFile), { recursive: true })
  await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`)
  const md = renderProfile(report)
  await writeFile(jsonFile.replace(/\.json$/, '.md'), md)
  console.log(`\n${md}`)
}

/** `profile --engine`: kernel shares of a prefill chunk and a decode step in the engine's own session. */
async function profileEngineSessions(
  shape: ShapeName,
  precisions: Precision[],
  contexts: number[],
  steps: number,
  threads: number,
  json: string | undefined,
): Promise<void> {
  const jsonFile = path.resolve(json ?? path.join(CACHE, 'results', 'profile-engine.json'))
  const models = await prepareModels(path.join(CACHE, 'models'), shape, precisions, false, console.log)
  const results: EngineProfileResult[] = []
  const failures: string[] = []
  for (const model of models) {
    for (const context of contexts) {
      console.log(`profiling the engine's session: ${model.name}, ${context} tokens then ${steps} steps`)
      const job = { modelDir: model.dir, onnxFile: model.onnxFile, context, chunk: DEFAULT_PREFILL_CHUNK, steps, threads, int8Activations: true }
      const r = await runInChild<{ ok: true; result: EngineProfileResult }>(RUNNER, { kind: 'engine', job } satisfies ProfileMessage, 30 * 60_000)
      if (r.ok) results.push(r.result)
      else failures.push(`${model.name} @${context}: ${r.error.split('\n')[0]}`)
    }
  }
  await mkdir(path.dirname(jsonFile), { recursive: true })
  await writeFile(jsonFile, `${JSON.stringify({ model: shape, threads, results, failures }, null, 2)}\n`)
  const md = renderEngineProfile(shape, threads, results, failures)
  await writeFile(jsonFile.replace(/\.json$/, '.md'), md)
  console.log(`\n${md}`)
}
