// Opening a decoder's ONNX session on one provider: where it can, the graph is rewritten so the KV
// cache is updated in place (graph/), each rewrite load-plan.ts offers is checked before it is used,
// and the export as it is remains the fallback.

import path from 'node:path'
import * as ort from 'onnxruntime-node'
import { FileSource } from './graph/onnx-file.ts'
import { rewriteModel, RewriteUnsupported, type InPlaceUpdate, type RewrittenModel } from './graph/rewrite-model.ts'
import type { KvCache } from './kv-cache.ts'
import { nextAttempt, type Attempt, type Outcome, type Tried } from './load-plan.ts'
import { ModelSession, type SessionOptions } from './session.ts'
import { readSignature, type Signature } from './signature.ts'

/**
 * Opens `file` on one provider; errors from onnxruntime propagate as they are (see
 * openWithFallback). On the CPU (and any provider whose outputs come back to the CPU) the graph
 * is rewritten so the cache is updated in place, and the rewrite is verified before it is used.
 */
export async function openSession(file: string, opts: SessionOptions): Promise<ModelSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [opts.provider],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // The memory-pattern planner caches a plan per set of input shapes, and decode never
    // repeats one (the past grows every step): it only added ~70 KiB of memory per step.
    enableMemPattern: false,
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: opts.spinning ? '1' : '0' } } },
    ...(opts.profileFilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profileFilePrefix } : {}),
  }
  const notes: string[] = []
  const kvUpdate = opts.kvUpdate ?? 'auto'
  if (opts.provider === 'webgpu') {
    notes.push('WebGPU keeps the whole cache on the device instead')
  } else if (kvUpdate === 'copy') {
    notes.push('in-place updates turned off')
  } else {
    const inPlace = await openInPlace(file, opts, kvUpdate, options, notes)
    if (inPlace) return inPlace
  }

  let session = await ort.InferenceSession.create(file, options)
  const sig = await signatureOrRelease(session, opts)
  if (opts.kvDtype && opts.kvDtype !== sig.kvDtype) notes.push(`cache kept in ${sig.kvDtype} as exported: ${opts.kvDtype} needs an in-place update`)
  if (opts.provider === 'webgpu') {
    // present.* stay on the device: fed back as past without a trip through the CPU, replaced
    // ones disposed by KvCache#advance. Only they: reading a 'gpu-buffer' output back (getData)
    // aborts the process in onnxruntime-node 1.30 (seen on an H200), so logits come to the CPU.
    // The names come from the metadata, hence the second open.
    await session.release()
    const onDevice = Object.fromEntries(sig.presentNames.map((name) => [name, 'gpu-buffer' as const]))
    session = await ort.InferenceSession.create(file, { ...options, preferredOutputLocation: onDevice })
  }
  return new ModelSession(session, sig, opts, 'copy', notes)
}

/** The first rewrite, in nextAttempt's order, that opens and passes verifyInPlace; null with the reasons in `notes`. */
async function openInPlace(
  file: string,
  opts: SessionOptions,
  kvUpdate: 'auto' | InPlaceUpdate,
  options: ort.InferenceSession.SessionOptions,
  notes: string[],
): Promise<ModelSession | null> {
  // Read by its fields' headers, never whole: the rewritten graph, loaded from memory, refers to
  // its weights where they are, in the file itself (inline weights) or its external data.
  const source = new FileSource(file)
  const fromMemory = {
    ...options,
    extra: { session: { ...(options.extra as { session: object }).session, model_external_initializers_file_folder_path: path.dirname(file) } },
  }
  const plan = { kvUpdate, foldRepeatKv: opts.foldRepeatKv, fuse: opts.fuse ?? opts.provider === 'cpu' }
  const tried: Tried[] = []
  try {
    for (let attempt = nextAttempt(plan, tried); attempt; attempt = nextAttempt(plan, tried)) {
      const made = await tryInPlace({ source, dir: path.dirname(file) }, attempt, opts, fromMemory, notes)
      if (made instanceof ModelSession) return made
      tried.push({ attempt, outcome: made })
    }
    return null
  } finally {
    source.close()
  }
}

/** One attempt: the rewritten, verified session, or what became of it (its reason in `notes`). */
async function tryInPlace(
  exported: { source: FileSource; dir: string },
  { kind, fold, fuse }: Attempt,
  opts: SessionOptions,
  fromMemory: ort.InferenceSession.SessionOptions,
  notes: string[],
): Promise<ModelSession | Outcome> {
  let result: RewrittenModel
  try {
    result = rewriteModel(exported.source, kind, {
      lastLogits: true,
      foldRepeatKv: fold,
      fuse,
      externalDataDir: exported.dir,
      location: path.basename(exported.source.path),
      int8Activations: opts.int8Activations ?? false,
      ...(opts.kvDtype ? { kvDtype: opts.kvDtype } : {}),
    })
  } catch (err) {
    // A file the rewrite cannot parse is left to onnxruntime, whose error says what is wrong.
    notes.push(`${kind}: ${err instanceof RewriteUnsupported ? err.message : `not rewritten (${firstLine(err)})`}`)
    return { refused: true }
  }
  if (result.logitsNote && !notes.some((n) => n.startsWith('last-position logits'))) notes.push(`last-position logits: ${result.logitsNote}`)
  if (result.fuseNote && !notes.some((n) => n.startsWith('fusion:'))) notes.push(`fusion: ${result.fuseNote}`)
  const rewritten = { refused: false, folded: result.folded, fused: result.fused.rotary + result.fused.skipNorm > 0 } as const
  const label = `${kind}${result.folded > 0 ? ' (repeat_kv folded)' : ''}${rewritten.fused ? ' (fused)' : ''}`
  let session: ort.InferenceSession
  try {
    session = await ort.InferenceSession.create(result.bytes, fromMemory)
  } catch (err) {
    notes.push(`${label}: the rewritten graph did not load (${firstLine(err)})`)
    return { ...rewritten, failed: 'load' }
  }
  const sig = await signatureOrRelease(session, opts)
  const fusions = [
    ...(result.fused.rotary > 0 ? [`rotary embedding ×${result.fused.rotary}`] : []),
    ...(result.fused.skipNorm > 0 ? [`residual add + RMSNorm ×${result.fused.skipNorm}`] : []),
  ]
  const model = new ModelSession(session, sig, opts, kind, [...notes], fusions)
  model.int8Activations = result.int8Matmuls > 0
  // Rounding a pass and its steps do apart: ~1e-5 of the logits' scale for exact graphs; int8
  // activations with an fp16 cache reach ~1.5% at the SmolLM2-135M shape (a step's activations
  // are rounded from a cache the single pass never read). A masking or position error moves
  // them by 50-90% (a graph ignoring attention_mask, six seeds, fp32 and q4).
  const tolerance = model.int8Activations || result.castCache ? 5e-2 : 1e-2
  const problem = await verifyInPlace(model, tolerance)
  if (problem === null) return model
  notes.push(`${label}: ${problem.message}`)
  await model.release()
  return { ...rewritten, failed: problem.failed ? 'run' : 'differs' }
}

/**
 * Checks that a rewritten graph computes what the export does: three tokens in one pass
 * against the same tokens one at a time, where every later pass attends over a cache with spare
 * positions holding garbage. A graph that ignores attention_mask, or takes its positions from
 * the cache's size, gives other logits. The single pass computes every position's logits and
 * the steps the last one's only, so a wrong num_logits_to_keep slice shows too. Returns null
 * when they agree, else what differed, or that the graph failed to run.
 */
async function verifyInPlace(model: ModelSession, tolerance: number): Promise<{ message: string; failed: boolean } | null> {
  const { vocab } = model
  const tokens = [1, 2, 3].map((t) => Math.min(t, vocab - 1))
  const whole = model.emptyCache()
  const steps = model.emptyCache()
  try {
    const all = await model.forward(whole, tokens, { logits: 'all', quiet: true })
    const expected = all.slice((tokens.length - 1) * vocab, tokens.length * vocab)
    for (const [i, t] of tokens.entries()) {
      const got = await model.forward(steps, [t], { logits: 'last', quiet: true })
      if (i === 0) fillSpare(steps)
      if (i < tokens.length - 1) continue
      let scale = 1
      let diff = 0
      for (let j = 0; j < expected.length; j++) {
        scale = Math.max(scale, Math.abs(expected[j]!))
        diff = Math.max(diff, Math.abs(expected[j]! - got[j]!))
      }
      if (!(diff <= tolerance * scale)) {
        return { message: `logits differ from a single pass by ${diff.toPrecision(2)} (scale ${scale.toPrecision(2)})`, failed: false }
      }
    }
    return null
  } catch (err) {
    return { message: `the rewritten graph failed (${firstLine(err)})`, failed: true }
  } finally {
    whole.dispose()
    steps.dispose()
  }
}

/** Writes 1.0 into every spare position of a CPU cache: garbage that attention must never see. */
function fillSpare(kv: KvCache): void {
  for (const t of kv.tensors) {
    const [, heads, cap, dim] = t.dims as [number, number, number, number]
    const data = t.data as Float32Array | Uint16Array
    const one = data instanceof Uint16Array ? 0x3c00 : 1
    for (let h = 0; h < heads; h++) data.fill(one, (h * cap + kv.nPast) * dim, (h + 1) * cap * dim)
  }
}

async function signatureOrRelease(session: ort.InferenceSession, opts: SessionOptions): Promise<Signature> {
  try {
    return readSignature(session.inputMetadata, session.outputMetadata, opts)
  } catch (err) {
    await session.release()
    throw err
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 300)
}
