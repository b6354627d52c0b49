// The benchmark models: random-weight folders with the real models' shapes, built once by the
// model builder and kept in a cache folder, each with a GGUF of the same weights for llama.cpp.

import { existsSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { buildModel, type ShapeName } from '../model-builder/build-model.ts'
import { writeLlamaGguf } from './llama-gguf.ts'
import type { ModelCost } from './stats.ts'

export type Precision = 'fp32' | 'q4'

export interface BenchModel {
  /** e.g. 'smollm2-135m fp32'. */
  name: string
  shape: ShapeName
  precision: Precision
  dir: string
  /** Relative to dir. */
  onnxFile: string
  ggufFile: string
  /** Where the GGUF's weights came from: the ONNX file's own, or seeded stand-ins. */
  ggufWeights: 'onnx' | 'seeded'
  vocab: number
  cost: ModelCost
}

/**
 * The export patterns the bench models are written with: 1, attention through repeat_kv and
 * RMSNorm as torch exports it (onnxruntime fuses it); 2, also RoPE as transformers exports it
 * (rotate_half by Slices, scaled and cast tables unsqueezed per layer); 3, also the q4 file's
 * lm_head quantized, as onnxruntime's quantizer leaves it in model_q4.onnx, with the matching
 * Q4_0 head in the GGUF, and its blocks scaled as that quantizer scales them; 4, also the mask
 * added to each layer's scores as a float mask made once (transformers' eager and SDPA
 * attention), not selected by a Where per layer.
 */
export const EXPORT_PATTERNS = 4

interface Stamp {
  shape: ShapeName
  /**
   * Which version of "as Optimum's exports write it" the graph follows (EXPORT_PATTERNS); older
   * caches lack it or have an older one, and are rebuilt.
   */
  asExported?: number | boolean
  logitsToKeep: boolean
  q4: boolean
  /** GGUF files written, by precision, with their weights' origin. */
  gguf: Partial<Record<Precision, 'onnx' | 'seeded'>>
}

interface ConfigShape {
  num_hidden_layers: number
  hidden_size: number
  num_attention_heads: number
  num_key_value_heads: number
  head_dim: number
  intermediate_size: number
  vocab_size: number
  tie_word_embeddings: boolean
}

/** Parameters, decode's weight bytes and fp32 KV bytes per token of a Llama-shaped model. */
export function modelCost(c: ConfigShape, precision: Precision, q4BlockSize = 32): ModelCost {
  const H = c.hidden_size
  const I = c.intermediate_size
  const projections = c.num_hidden_layers * (H * c.head_dim * 2 * (c.num_attention_heads + c.num_key_value_heads) + 3 * H * I)
  const head = c.vocab_size * H
  const embeddings = head * (c.tie_word_embeddings ? 1 : 2)
  const vectors = (2 * c.num_hidden_layers + 1) * H
  // A step reads every projection and the lm_head whole, and one row of the embedding table. fp32:
  // the bench's tied head is the table itself, read by a Gemm. q4: 4-bit codes plus one fp32 scale
  // per block for the projections and the head (its own quantized copy, as in model_q4.onnx); the
  // table stays fp32 and only its rows are read.
  const matmulBytes = precision === 'q4' ? (projections + head) * (0.5 + 4 / q4BlockSize) : (projections + head) * 4
  return {
    parameters: projections + embeddings + vectors,
    weightBytes: matmulBytes + vectors * 4,
    kvBytesPerToken: 2 * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * 4,
    prefillFlopsPerToken: 2 * projections,
  }
}

/**
 * Returns the model folder for `shape`, building it (and GGUFs for the precisions asked) when the
 * cache lacks it. `logitsToKeep` builds the graph with a num_logits_to_keep input.
 */
export async function prepareModels(
  cacheDir: string,
  shape: ShapeName,
  precisions: Precision[],
  logitsToKeep: boolean,
  log: (line: string) => void,
): Promise<BenchModel[]> {
  const dir = path.join(cacheDir, `${shape}${logitsToKeep ? '-ltk' : ''}`)
  const stampFile = path.join(dir, 'bench-stamp.json')
  const wantQ4 = precisions.includes('q4')
  let stamp: Stamp | null = existsSync(stampFile) ? (JSON.parse(await readFile(stampFile, 'utf8')) as Stamp) : null
  if (!stamp || stamp.shape !== shape || stamp.asExported !== EXPORT_PATTERNS || stamp.logitsToKeep !== logitsToKeep || (wantQ4 && !stamp.q4)) {
    log(`building ${shape} (random weights${wantQ4 ? ', plus q4' : ''}) in ${dir}`)
    await rm(dir, { recursive: true, force: true })
    // Attention and norms as in the Optimum exports users download: every engine that runs the
    // ONNX file pays (or avoids) what they cost there.
    await buildModel(dir, { shape, q4: wantQ4, logitsToKeep, repeatKv: true, exportedRmsNorm: true, exportedRope: true, additiveMask: true })
    stamp = { shape, asExported: EXPORT_PATTERNS, logitsToKeep, q4: wantQ4, gguf: {} }
    await writeFile(stampFile, JSON.stringify(stamp))
  }
  const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as ConfigShape
  const models: BenchModel[] = []
  for (const precision of precisions) {
    const ggufFile = path.join(dir, `model-${precision === 'q4' ? 'q4_0' : 'f32'}.gguf`)
    if (!stamp.gguf[precision] || !existsSync(ggufFile)) {
      log(`writing ${path.basename(ggufFile)} for ${shape}`)
      const written = await writeLlamaGguf(dir, ggufFile, { precision: precision === 'q4' ? 'q4_0' : 'f32' })
      stamp.gguf[precision] = written.weights
      await writeFile(stampFile, JSON.stringify(stamp))
    }
    models.push({
      name: `${shape} ${precision}${logitsToKeep ? ' (logits-to-keep)' : ''}`,
      shape,
      precision,
      dir,
      onnxFile: precision === 'q4' ? 'onnx/model_q4.onnx' : 'onnx/model.onnx',
      ggufFile,
      ggufWeights: stamp.gguf[precision]!,
      vocab: config.vocab_size,
      cost: modelCost(config, precision),
    })
  }
  return models
}
