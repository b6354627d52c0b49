// What a GGUF says about its model: the architecture, every hyperparameter the conversion needs
// (read from the metadata, never guessed from the file name), and the tensors checked against them.

import { AppError } from '../../../src-shared/errors.ts'
import { GgmlType, type GgufHeader, type GgufTensorInfo, type GgufValue } from './gguf-types.ts'

/** Architectures the importer writes, as GGUF names them, with transformers' names for them. */
const ARCHITECTURES = {
  llama: { modelType: 'llama', hfClass: 'LlamaForCausalLM' },
  qwen2: { modelType: 'qwen2', hfClass: 'Qwen2ForCausalLM' },
  phi3: { modelType: 'phi3', hfClass: 'Phi3ForCausalLM' },
} as const

export type GgufArchitecture = keyof typeof ARCHITECTURES

export interface GgufModel {
  architecture: GgufArchitecture
  modelType: string
  hfClass: string
  name: string | null
  layers: number
  hidden: number
  intermediate: number
  heads: number
  kvHeads: number
  headDim: number
  vocab: number
  contextLength: number
  rmsEps: number
  ropeTheta: number
  /** transformers' rope_scaling, when the GGUF states one ('linear' only). */
  ropeScaling: { type: 'linear'; factor: number } | null
  /**
   * Llama 3.1-style scaling as llama.cpp stores it: one divisor per frequency in rope_freqs.weight
   * [headDim / 2]; false when the file has none.
   */
  ropeFreqs: boolean
  /** No output.weight: the lm_head is the embedding. */
  tied: boolean
  /** Qwen2: biases on the q, k and v projections. */
  qkvBias: boolean
  /** phi3: q, k and v in one attn_qkv tensor, gate and up in one ffn_up. */
  fused: boolean
  /**
   * ggml's 'llama' rope turns adjacent pairs (2j, 2j+1); transformers' rotates halves (j, j + D/2).
   * llama.cpp's converter permutes the q and k rows so one becomes the other: undo it here.
   */
  unpermuteQk: boolean
  tensors: Map<string, GgufTensorInfo>
}

/** Reads and checks the model a GGUF describes; throws MODEL_UNSUPPORTED or IMPORT_INVALID naming what is wrong. */
export function describeModel(header: GgufHeader, fileName: string): GgufModel {
  const meta = header.metadata
  const arch = str(meta, 'general.architecture')
  if (arch === null) throw new AppError('IMPORT_INVALID', `${fileName}: no general.architecture in the GGUF metadata`)
  if (!(arch in ARCHITECTURES)) {
    throw new AppError(
      'MODEL_UNSUPPORTED',
      `${fileName}: the "${arch}" architecture cannot be imported (Hearth imports ${Object.keys(ARCHITECTURES).join(', ')})`,
    )
  }
  const architecture = arch as GgufArchitecture
  const need = (key: string): number => {
    const v = int(meta, `${arch}.${key}`)
    if (v === null || v <= 0) throw new AppError('IMPORT_INVALID', `${fileName}: the metadata lacks ${arch}.${key}`)
    return v
  }
  const heads = need('attention.head_count')
  const hidden = need('embedding_length')
  const kvHeads = int(meta, `${arch}.attention.head_count_kv`) ?? heads
  const headDim = int(meta, `${arch}.attention.key_length`) ?? hidden / heads
  if (!Number.isInteger(headDim) || heads % kvHeads !== 0 || headDim % 2 !== 0) {
    throw new AppError('IMPORT_INVALID', `${fileName}: ${heads} heads, ${kvHeads} key/value heads and width ${hidden} do not fit together`)
  }
  const ropeDims = int(meta, `${arch}.rope.dimension_count`)
  if (ropeDims !== null && ropeDims !== headDim) {
    throw new AppError('MODEL_UNSUPPORTED', `${fileName}: rotary embedding over ${ropeDims} of ${headDim} dimensions is not supported`)
  }
  const scalingType = str(meta, `${arch}.rope.scaling.type`)
  const scalingFactor = num(meta, `${arch}.rope.scaling.factor`)
  let ropeScaling: GgufModel['ropeScaling'] = null
  if (scalingType === 'linear' && scalingFactor !== null && scalingFactor !== 1) ropeScaling = { type: 'linear', factor: scalingFactor }
  else if (scalingType !== null && scalingType !== 'none' && !(scalingType === 'linear' && (scalingFactor ?? 1) === 1)) {
    throw new AppError('MODEL_UNSUPPORTED', `${fileName}: rope scaling "${scalingType}" is not supported`)
  }
  if (header.tensors.some((t) => t.name.startsWith('rope_factors_'))) {
    throw new AppError('MODEL_UNSUPPORTED', `${fileName}: long-context rope factors (longrope, as Phi-3 128k models use) are not supported`)
  }
  const tokens = meta.get('tokenizer.ggml.tokens')
  const tensors = new Map(header.tensors.map((t) => [t.name, t]))
  const embedding = tensors.get('token_embd.weight')
  const vocab = Array.isArray(tokens) ? tokens.length : (embedding?.ne[1] ?? 0)

  const model: GgufModel = {
    architecture,
    ...ARCHITECTURES[architecture],
    name: str(meta, 'general.name'),
    layers: need('block_count'),
    hidden,
    intermediate: need('feed_forward_length'),
    heads,
    kvHeads,
    headDim,
    vocab,
    contextLength: need('context_length'),
    rmsEps: num(meta, `${arch}.attention.layer_norm_rms_epsilon`) ?? 1e-5,
    // llama's default base when the key is absent, as llama.cpp assumes.
    ropeTheta: num(meta, `${arch}.rope.freq_base`) ?? 10000,
    ropeScaling,
    ropeFreqs: tensors.has('rope_freqs.weight'),
    tied: !tensors.has('output.weight'),
    qkvBias: tensors.has('blk.0.attn_q.bias'),
    fused: architecture === 'phi3',
    unpermuteQk: architecture === 'llama',
    tensors,
  }
  checkTensors(model, fileName)
  return model
}

/** Every tensor the decoder reads, with the shape (ggml order) the metadata implies. */
export function expectedTensors(m: GgufModel): [name: string, ne: number[]][] {
  const { hidden: H, heads, kvHeads, headDim: D, intermediate: I, vocab: V } = m
  const out: [string, number[]][] = [['token_embd.weight', [H, V]], ['output_norm.weight', [H]]]
  if (!m.tied) out.push(['output.weight', [H, V]])
  for (let i = 0; i < m.layers; i++) {
    const b = `blk.${i}`
    out.push([`${b}.attn_norm.weight`, [H]], [`${b}.ffn_norm.weight`, [H]], [`${b}.attn_output.weight`, [heads * D, H]], [`${b}.ffn_down.weight`, [I, H]])
    if (m.fused) {
      out.push([`${b}.attn_qkv.weight`, [H, (heads + 2 * kvHeads) * D]], [`${b}.ffn_up.weight`, [H, 2 * I]])
    } else {
      out.push(
        [`${b}.attn_q.weight`, [H, heads * D]],
        [`${b}.attn_k.weight`, [H, kvHeads * D]],
        [`${b}.attn_v.weight`, [H, kvHeads * D]],
        [`${b}.ffn_gate.weight`, [H, I]],
        [`${b}.ffn_up.weight`, [H, I]],
      )
      if (m.qkvBias) out.push([`${b}.attn_q.bias`, [heads * D]], [`${b}.attn_k.bias`, [kvHeads * D]], [`${b}.attn_v.bias`, [kvHeads * D]])
    }
  }
  return out
}

/** Refuses a file whose tensors are missing or shaped otherwise than its metadata says. */
function checkTensors(m: GgufModel, fileName: string): void {
  for (const [name, ne] of expectedTensors(m)) {
    const t = m.tensors.get(name)
    if (!t) throw new AppError('IMPORT_INVALID', `${fileName}: tensor ${name} is missing`)
    const shape = t.ne.slice()
    while (shape.length > ne.length && shape.at(-1) === 1) shape.pop()
    if (shape.length !== ne.length || shape.some((d, i) => d !== ne[i])) {
      throw new AppError('IMPORT_INVALID', `${fileName}: tensor ${name} is [${t.ne.join(', ')}], but the metadata makes it [${ne.join(', ')}]`)
    }
    // Norms and biases are read as floats; a quantized one is not something converters write.
    if (ne.length === 1 && t.type !== GgmlType.F32 && t.type !== GgmlType.F16 && t.type !== GgmlType.BF16) {
      throw new AppError('IMPORT_INVALID', `${fileName}: tensor ${name} is quantized (type ${t.type}); only matrices may be`)
    }
  }
}

function str(meta: Map<string, GgufValue>, key: string): string | null {
  const v = meta.get(key)
  return typeof v === 'string' ? v : null
}

function num(meta: Map<string, GgufValue>, key: string): number | null {
  const v = meta.get(key)
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : null
}

function int(meta: Map<string, GgufValue>, key: string): number | null {
  const v = num(meta, key)
  return v !== null && Number.isSafeInteger(v) ? v : null
}
