// The GPU check's report (`bench -- gpu`): greedy agreement with the CPU, why a provider could not
// be used, the verdict and exit status, and the Markdown. Pure: gpu.ts measures, this judges.

import type { ProviderName, VariantName } from '../../src-shared/types.ts'

export type GpuProvider = Extract<ProviderName, 'webgpu' | 'cuda'>

export interface Agreement {
  /** Greedy tokens equal to the CPU's from the start. */
  agreed: number
  compared: number
  /** Index of the first token that differs; null when all compared tokens agree. */
  firstDivergence: number | null
}

/** Where two greedy runs from the same prompt part: tokens after the first difference say nothing. */
export function agreement(reference: readonly number[], got: readonly number[]): Agreement {
  const compared = Math.min(reference.length, got.length)
  let agreed = 0
  while (agreed < compared && reference[agreed] === got[agreed]) agreed++
  return { agreed, compared, firstDivergence: agreed < compared ? agreed : null }
}

/**
 * Greedy with a repetition penalty (logits of tokens already in the reply divided by `penalty`
 * when positive, multiplied when negative): a random-weight model then picks a new token most
 * steps instead of repeating one, so every step is a fresh ranking a numerical error can upset.
 */
export function penalizedArgmax(logits: ArrayLike<number>, seen: ReadonlySet<number>, penalty: number): number {
  let best = 0
  let bestValue = -Infinity
  for (let i = 0; i < logits.length; i++) {
    const raw = logits[i]!
    const value = seen.has(i) ? (raw > 0 ? raw / penalty : raw * penalty) : raw
    if (value > bestValue) {
      best = i
      bestValue = value
    }
  }
  return best
}

/** The largest |a - b| and the largest |a|: a difference means something only against the scale. */
export function logitsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbsDiff: number; scale: number } {
  let maxAbsDiff = 0
  let scale = 0
  for (let i = 0; i < a.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!))
    scale = Math.max(scale, Math.abs(a[i]!))
  }
  return { maxAbsDiff, scale }
}

export type FailureKind = 'unavailable' | 'failed'

/**
 * Why a provider's session did not open, as a reader should act on it: 'unavailable' when this
 * machine lacks the GPU or its libraries (the check could not run, it did not fail), else 'failed'.
 */
export function classifyFailure(provider: GpuProvider, message: string, env: { vulkanLoader: boolean }): { kind: FailureKind; reason: string } {
  if (provider === 'webgpu' && /Failed to get a WebGPU adapter|No supported adapters|adapter/i.test(message)) {
    const why = env.vulkanLoader
      ? 'no WebGPU adapter: the Vulkan loader found no GPU driver (a software one such as llvmpipe is rejected)'
      : 'no WebGPU adapter: libvulkan.so.1 is not installed (tools/bench/gpu-run.sh unpacks the carried one)'
    return { kind: 'unavailable', reason: why }
  }
  if (provider === 'cuda' && /CUDA libraries are not installed|libonnxruntime_providers_cuda|libcudart|libcublas|libcudnn|CUDA driver|no CUDA-capable device/i.test(message)) {
    if (/not installed/.test(message)) return { kind: 'unavailable', reason: 'CUDA libraries are not installed (npm run setup:cuda downloads them, which needs the internet)' }
    return { kind: 'unavailable', reason: firstLine(message) }
  }
  return { kind: 'failed', reason: firstLine(message) }
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/^\/onnxruntime_src\/\S+ .*? was false\. /, '').slice(0, 300)
}

export interface Speed {
  /** Prompt tokens -> tok/s (prompt tokens / time to the first token's logits, best of the repeats). */
  prefill: Record<string, number>
  /** 1 / median time per decode step after a 128-token prompt. */
  decode: number
}

export interface RunResult {
  provider: GpuProvider | 'cpu'
  variant: VariantName
  /** What the engine says it loaded on (LoadedModelInfo.provider). */
  providerUsed: ProviderName
  /** The CPU run this one's greedy tokens are compared with. */
  referenceVariant: VariantName
  agreement: Agreement | null
  /** The prompt's last-position logits against the reference's; null for a reference. */
  firstLogits: { maxAbsDiff: number; scale: number } | null
  speed: Speed | null
  /** 'device': every KV tensor was a gpu-buffer after every step; 'host': none was; 'mixed'. */
  kv: 'device' | 'host' | 'mixed'
  kvUpdate: string
  loadMs: number
  notes: string[]
}

export interface ProviderOutcome {
  provider: GpuProvider
  runs: RunResult[]
  /** Variants that did not open or broke, with why. */
  failures: { variant: VariantName; kind: FailureKind; reason: string }[]
}

export interface GpuReport {
  machine: Record<string, string | number>
  tokens: number
  /** The repetition penalty of the greedy comparison (penalizedArgmax). */
  penalty: number
  /** CPU runs: the references (fp32, q4) and the fp16 files on the CPU, rounding alone. */
  cpu: RunResult[]
  providers: ProviderOutcome[]
  verdict: Verdict
}

export interface Verdict {
  /** 0: a GPU provider ran and its checks held; 1: a GPU provider broke a check; 2: no GPU provider could run. */
  exitCode: 0 | 1 | 2
  summary: string
}

/**
 * fp32 on the GPU must agree with the CPU for this many tokens: the same weights and arithmetic up
 * to summation order, so only a near-tie may part them. fp16 and q4f16 round differently from their
 * CPU references (fp32 and q4 with fp32 activations) and random weights give flat logits, so their
 * agreement length is reported, not judged.
 */
export const FP32_MIN_AGREED = 16

/** The verdict and exit status: a run that found no GPU must not read as a pass. */
export function judge(providers: readonly ProviderOutcome[]): Verdict {
  const ran = providers.filter((p) => p.runs.length > 0)
  const broken: string[] = []
  for (const p of providers) {
    for (const f of p.failures) if (f.kind === 'failed') broken.push(`${p.provider} ${f.variant}: ${f.reason}`)
    for (const r of p.runs) {
      const a = r.agreement
      if (r.variant === 'fp32' && a && a.agreed < Math.min(FP32_MIN_AGREED, a.compared)) broken.push(`${p.provider} fp32: greedy tokens differ from the CPU's at token ${a.agreed}`)
      if (p.provider === 'webgpu' && r.kv !== 'device') broken.push(`webgpu ${r.variant}: the KV cache did not stay on the device (${r.kv})`)
    }
  }
  if (broken.length > 0) return { exitCode: 1, summary: `FAILED: ${broken.join('; ')}` }
  if (ran.length === 0) {
    const why = providers.map((p) => `${p.provider}: ${p.failures[0]?.reason ?? 'not tried'}`).join('; ')
    return { exitCode: 2, summary: `NOT RUN: no GPU provider available (${why}). Only the CPU reference was measured.` }
  }
  return { exitCode: 0, summary: `ran on ${ran.map((p) => `${p.provider} (${p.runs.map((r) => r.variant).join(', ')})`).join('; ')}` }
}

const fmt = (n: number | undefined): string => (n === undefined ? '—' : n >= 100 ? n.toFixed(0) : n.toFixed(1))

export function renderGpuMarkdown(report: GpuReport, prefillSizes: readonly number[]): string {
  const m = report.machine
  const lines = [
    `# GPU check (${m.date})`,
    '',
    `${m.gpu} · ${m.cpu} · Node ${m.node} · onnxruntime ${m.onnxruntime}`,
    '',
    `**${report.verdict.summary}**`,
    '',
    `Greedy: ${report.tokens} tokens from a fixed 32-token prompt, repetition penalty ${report.penalty}, compared token by token with the CPU run named; Δ logit: the prompt's last position.`,
    '',
    `| provider | variant | engine used | greedy vs CPU | max \\|Δ logit\\| (scale) | ${prefillSizes.map((n) => `prefill ${n} tok/s`).join(' | ')} | decode tok/s | KV cache | load s |`,
    `|---|---|---|---|---|${prefillSizes.map(() => '---|').join('')}---|---|---|`,
  ]
  const row = (r: RunResult): string => {
    const a = r.agreement
    const agreed = !a ? 'reference' : a.firstDivergence === null ? `all ${a.compared} equal to ${r.referenceVariant}` : `first ${a.agreed} of ${a.compared} equal to ${r.referenceVariant}`
    const diff = r.firstLogits ? `${r.firstLogits.maxAbsDiff.toPrecision(2)} (${r.firstLogits.scale.toPrecision(3)})` : '—'
    const prefill = prefillSizes.map((n) => fmt(r.speed?.prefill[n])).join(' | ')
    return `| ${r.provider} | ${r.variant} | ${r.providerUsed} | ${agreed} | ${diff} | ${prefill} | ${fmt(r.speed?.decode)} | ${r.kv === 'device' ? 'on the device' : r.kv === 'host' ? 'host (copied each step)' : 'mixed'} | ${(r.loadMs / 1000).toFixed(1)} |`
  }
  for (const r of report.cpu) lines.push(row(r))
  for (const p of report.providers) {
    for (const r of p.runs) lines.push(row(r))
    for (const f of p.failures) lines.push(`| ${p.provider} | ${f.variant} | — | ${f.kind === 'unavailable' ? 'not available' : 'FAILED'}: ${f.reason.replaceAll('|', '\\|')} | — |${prefillSizes.map(() => ' — |').join('')} — | — | — |`)
  }
  return `${lines.join('\n')}\n`
}
