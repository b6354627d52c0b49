// What a decoder export takes and gives: the only file that knows ONNX input/output names. The
// session reads its signature from onnxruntime's metadata; the load-time rewrites (graph/) find
// and name their inputs and outputs through the names and patterns here.

import type * as ort from 'onnxruntime-node'
import { AppError } from '../../src-shared/errors.ts'
import type { KvDtype } from '../../src-shared/types.ts'

export type IntType = 'int64' | 'int32'
export type KvRole = 'key' | 'value'

/** The inputs and outputs other than the cache, as Optimum's exports name them. */
export const NAMES = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  positionIds: 'position_ids',
  /** Optimum's newer exports' name, and the one the rewrite gives the input it adds. */
  numLogitsToKeep: 'num_logits_to_keep',
  /** transformers' own name for num_logits_to_keep. */
  logitsToKeep: 'logits_to_keep',
  useCacheBranch: 'use_cache_branch',
  logits: 'logits',
} as const

/** Cache inputs and outputs are named {prefix}.{layer}.key|value; these are the prefixes. */
const KV_PREFIX = { past: 'past_key_values', present: 'present', fresh: 'fresh' } as const
/** present.* as a pattern: some exports name it present_key_values.*. */
const PRESENT_PREFIXES = `${KV_PREFIX.present}(?:_key_values)?`

/** Matches {prefix}.{layer}.key|value for `prefixes` (a regex alternation); captures layer and role. */
function kvPattern(prefixes: string): RegExp {
  return new RegExp(`^(?:${prefixes})\\.(\\d+)\\.(key|value)$`)
}

/** The cache fed in: past_key_values.{layer}.key|value. */
export const PAST = kvPattern(KV_PREFIX.past)
/** The export's cache out, past and new: present.{layer}.key|value (or present_key_values.*). */
export const PRESENT = kvPattern(PRESENT_PREFIXES)
/** A rewritten graph's cache out: fresh.{layer}.key|value, the new tokens' only. */
export const FRESH = kvPattern(KV_PREFIX.fresh)
/** A cache output: the export's present.*, or a rewritten graph's fresh.*. */
const KV_OUTPUT = kvPattern(`${PRESENT_PREFIXES}|${KV_PREFIX.fresh}`)

const KNOWN_INPUTS = new Set<string>([
  NAMES.inputIds,
  NAMES.attentionMask,
  NAMES.positionIds,
  NAMES.numLogitsToKeep,
  NAMES.logitsToKeep,
  NAMES.useCacheBranch,
])

export function pastName(layer: number, role: KvRole): string {
  return `${KV_PREFIX.past}.${layer}.${role}`
}

/** The export's output for a cache input: the whole cache, past and new. */
export function presentName(layer: number, role: KvRole): string {
  return `${KV_PREFIX.present}.${layer}.${role}`
}

/** A rewritten graph's output for the new tokens' keys or values, [batch, kvHeads, new tokens, headDim]. */
export function freshName(layer: number, role: KvRole): string {
  return `${KV_PREFIX.fresh}.${layer}.${role}`
}

/** The layer and role of a cache input or output named as `pattern` (PAST, PRESENT) matches, or null. */
export function kvSlotOf(name: string, pattern: RegExp): { layer: number; role: KvRole } | null {
  const m = pattern.exec(name)
  return m ? { layer: Number(m[1]), role: m[2] as KvRole } : null
}

export interface Signature {
  ids: IntType
  /** null: the export has no attention_mask input. */
  mask: IntType | null
  /** null: the export derives positions itself. */
  positions: IntType | null
  /** Name and type of num_logits_to_keep / logits_to_keep, when present. */
  logitsToKeep: { name: string; type: IntType } | null
  useCacheBranch: boolean
  kvDtype: KvDtype
  logitsDtype: 'float32' | 'float16'
  layers: number
  kvHeads: number
  headDim: number
  /** past_key_values.{i}.key|value, in KvCache order (layer, then key before value). */
  pastNames: string[]
  /**
   * present.{i}.key|value in the same order: the whole cache, past and new. In a graph rewritten
   * for in-place updates (graph/in-place.ts), fresh.{i}.key|value: the new tokens' keys and values.
   */
  presentNames: string[]
  /** Whether the outputs are fresh.* (the engine writes them into its own buffers). */
  inPlace: boolean
}

/** Reads what the graph takes and gives; throws MODEL_UNSUPPORTED naming everything it cannot drive. */
export function readSignature(
  inputs: readonly ort.InferenceSession.ValueMetadata[],
  outputs: readonly ort.InferenceSession.ValueMetadata[],
  fallback: { kvHeads: number; headDim: number },
): Signature {
  const problems: string[] = []
  const byName = new Map(inputs.map((m) => [m.name, m]))
  const typeOf = (m: ort.InferenceSession.ValueMetadata | undefined): string | null =>
    m === undefined ? null : m.isTensor ? m.type : 'non-tensor'
  const intType = (name: string, required: boolean): IntType | null => {
    const t = typeOf(byName.get(name))
    if (t === null) {
      if (required) problems.push(`no ${name} input`)
      return null
    }
    if (t === 'int64' || t === 'int32') return t
    problems.push(`${name} of type ${t}`)
    return null
  }

  const unknown = inputs.map((m) => m.name).filter((n) => !KNOWN_INPUTS.has(n) && !PAST.test(n))
  if (unknown.length > 0) problems.push(`unknown inputs ${unknown.join(', ')}`)
  const ids = intType(NAMES.inputIds, true)
  const mask = intType(NAMES.attentionMask, false)
  const positions = intType(NAMES.positionIds, false)
  const keepName = byName.has(NAMES.numLogitsToKeep) ? NAMES.numLogitsToKeep : byName.has(NAMES.logitsToKeep) ? NAMES.logitsToKeep : null
  const keepType = keepName ? intType(keepName, true) : null
  const branch = byName.get(NAMES.useCacheBranch)
  if (branch && typeOf(branch) !== 'bool') problems.push(`${NAMES.useCacheBranch} of type ${typeOf(branch)}`)

  const pastByIndex = indexKv(inputs, PAST)
  const presentByIndex = indexKv(outputs, KV_OUTPUT)
  const slots = Math.ceil(Math.max(pastByIndex.length, presentByIndex.length) / 2) * 2
  const layers = slots / 2
  if (pastByIndex.length === 0) problems.push('no past_key_values inputs (exports without a KV cache cannot be driven)')
  const pastNames: string[] = []
  const presentNames: string[] = []
  const kvTypes = new Set<string>()
  let kvHeads = fallback.kvHeads
  let headDim = fallback.headDim
  for (let i = 0; i < slots; i++) {
    const past = pastByIndex[i]
    const present = presentByIndex[i]
    const layer = Math.floor(i / 2)
    const role: KvRole = i % 2 === 0 ? 'key' : 'value'
    if (!past) problems.push(`no input ${pastName(layer, role)}`)
    if (!present) problems.push(`no output ${presentName(layer, role)}`)
    if (!past || !present) continue
    pastNames.push(past.name)
    presentNames.push(present.name)
    kvTypes.add(String(typeOf(past)))
    if (past.isTensor && past.shape.length === 4) {
      if (typeof past.shape[1] === 'number') kvHeads = past.shape[1]
      if (typeof past.shape[3] === 'number') headDim = past.shape[3]
    } else {
      problems.push(`${pastName(layer, role)} is not a 4-D tensor`)
    }
  }
  const kvDtype = [...kvTypes][0]
  if (kvTypes.size > 1 || (kvDtype !== undefined && kvDtype !== 'float32' && kvDtype !== 'float16')) {
    problems.push(`KV cache of type ${[...kvTypes].join(' and ')}`)
  }
  const logits = outputs.find((m) => m.name === NAMES.logits)
  const logitsType = typeOf(logits)
  if (logitsType !== 'float32' && logitsType !== 'float16') {
    problems.push(logits ? `logits of type ${logitsType}` : 'no logits output')
  }

  if (problems.length > 0) {
    throw new AppError('MODEL_UNSUPPORTED', `Unsupported model signature: ${problems.join('; ')}`)
  }
  return {
    ids: ids as IntType,
    mask,
    positions,
    logitsToKeep: keepName && keepType ? { name: keepName, type: keepType } : null,
    useCacheBranch: branch !== undefined,
    kvDtype: kvDtype as KvDtype,
    logitsDtype: logitsType as 'float32' | 'float16',
    layers,
    kvHeads,
    headDim,
    pastNames,
    presentNames,
    inPlace: presentNames.length > 0 && presentNames.every((n) => FRESH.test(n)),
  }
}

/** Metadata entries matching `pattern` (layer, key|value), as [layer0.key, layer0.value, ...]. */
function indexKv(
  metas: readonly ort.InferenceSession.ValueMetadata[],
  pattern: RegExp,
): (ort.InferenceSession.ValueMetadata | undefined)[] {
  const slots: (ort.InferenceSession.ValueMetadata | undefined)[] = []
  for (const m of metas) {
    const slot = kvSlotOf(m.name, pattern)
    if (slot) slots[slot.layer * 2 + (slot.role === 'key' ? 0 : 1)] = m
  }
  return Array.from({ length: slots.length }, (_, i) => slots[i])
}
