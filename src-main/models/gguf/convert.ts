// Converts a GGUF file into a model folder in the Hugging Face ONNX layout the engine runs:
// config.json, generation_config.json, tokenizer.json, tokenizer_config.json, onnx/model*.onnx
// with its external data, and hearth-conversion.json saying what was done.

import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { ConversionInfo } from '../../../src-shared/types.ts'
import { CONVERSION_FILE } from '../../model-format/model-folder.ts'
import { writeDecoder } from '../onnx-writer/decoder-graph.ts'
import type { RopeScaling } from '../onnx-writer/rope.ts'
import { describeModel, type GgufModel } from './architecture.ts'
import { GgmlType } from './gguf-types.ts'
import { readGgufHeader } from './reader.ts'
import { ggufTokenizer } from './tokenizer.ts'
import { GgufWeightSource, plannedVariant, type ConvertedVariant, type WeightPrecision } from './weight-source.ts'

export interface ConvertOptions {
  /** 'source' (the default): each projection as its GGUF type allows; else all at one precision. */
  precision?: WeightPrecision
  /** Called as tensors are written: how many of how many. */
  onProgress?: (done: number, total: number) => void
  /** What the model info and errors call the file; default its name (an Ollama blob's is a hash). */
  sourceName?: string | undefined
}

/** Writes the model folder `outDir` (created; it must not exist) from the GGUF `file`. */
export async function convertGguf(file: string, outDir: string, opts: ConvertOptions = {}): Promise<ConversionInfo> {
  const fileName = opts.sourceName ?? path.basename(file)
  const header = await readGgufHeader(file)
  const model = describeModel(header, fileName)
  const tokenizer = ggufTokenizer(header.metadata)
  const precision = opts.precision ?? 'source'

  mkdirSync(path.join(outDir, 'onnx'), { recursive: true })
  const json = (name: string, value: unknown): void => writeFileSync(path.join(outDir, name), `${JSON.stringify(value, null, 2)}\n`)
  json('config.json', hfConfig(model, tokenizer.bosTokenId, tokenizer.eosTokenIds))
  // No sampling fields: the GGUF states none, so chats start from neutral defaults.
  json('generation_config.json', { bos_token_id: tokenizer.bosTokenId ?? undefined, eos_token_id: tokenizer.eosTokenIds })
  json('tokenizer.json', tokenizer.tokenizerJson)
  json('tokenizer_config.json', tokenizer.tokenizerConfig)

  const fd = openSync(file, 'r')
  const variant = plannedVariant(model, precision)
  let source: GgufWeightSource
  try {
    source = new GgufWeightSource(fd, model, precision, opts.onProgress)
    const ropeScaling: RopeScaling | null = model.ropeFreqs ? { type: 'factors', factors: source.ropeFactors() } : model.ropeScaling
    writeDecoder(path.join(outDir, 'onnx'), VARIANT_FILES[variant], { ...model, ropeScaling }, source)
  } finally {
    closeSync(fd)
  }
  const info: ConversionInfo = {
    source: fileName,
    architecture: model.architecture,
    sourceTypes: typeCounts(header.tensors.map((t) => t.type)),
    variant,
    floatTensors: source.tally.float,
    exactTensors: source.tally.exact,
    requantizedTensors: source.tally.requantized,
    maxAbsError: source.tally.requantized > 0 ? source.tally.maxAbsError : null,
    rmsError: source.tally.requantized > 0 ? source.tally.rmsError : null,
    notes: tokenizer.notes,
  }
  json(CONVERSION_FILE, info)
  return info
}

/** config.json as transformers writes it for the architecture. */
function hfConfig(m: GgufModel, bos: number | null, eos: number[]): Record<string, unknown> {
  return {
    architectures: [m.hfClass],
    model_type: m.modelType,
    hidden_size: m.hidden,
    intermediate_size: m.intermediate,
    num_hidden_layers: m.layers,
    num_attention_heads: m.heads,
    num_key_value_heads: m.kvHeads,
    head_dim: m.headDim,
    max_position_embeddings: m.contextLength,
    rms_norm_eps: m.rmsEps,
    rope_theta: m.ropeTheta,
    // Per-frequency factors (rope_freqs) have no transformers form here; they are in the graph.
    rope_scaling: m.ropeScaling ? { rope_type: m.ropeScaling.type, factor: m.ropeScaling.factor } : null,
    vocab_size: m.vocab,
    tie_word_embeddings: m.tied,
    hidden_act: 'silu',
    bos_token_id: bos,
    eos_token_id: eos.length === 1 ? eos[0] : eos,
    torch_dtype: 'float32',
  }
}

const VARIANT_FILES: Record<ConvertedVariant, string> = {
  fp32: 'model.onnx',
  q8: 'model_quantized.onnx',
  q4: 'model_q4.onnx',
}

const TYPE_NAMES = new Map<number, string>(Object.entries(GgmlType).map(([name, id]) => [id, name]))

function typeCounts(types: number[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const t of types) {
    const name = TYPE_NAMES.get(t) ?? `type ${t}`
    counts[name] = (counts[name] ?? 0) + 1
  }
  return counts
}
