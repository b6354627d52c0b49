// `npm run bench -- ppl`: the quality figure. Converts the trained stories260K GGUF at each
// precision the importer writes and reports the engine's perplexity on a TinyStories-style text,
// with each lever that changes numerics beside it: the KV cache kept in fp16, and 4-bit matmuls
// with int8 activations (MatMulNBits accuracy_level 4); `--model DIR` scores any model folder
// instead.

import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { KvDtype } from '../../src-shared/types.ts'
import { onnx } from '../../src-main/engine/graph/graph-edit.ts'
import { loadModel } from '../../src-main/engine/load-model.ts'
import { perplexity, type Perplexity } from '../../src-main/engine/perplexity.ts'
import { convertGguf } from '../../src-main/models/gguf/convert.ts'
import type { ConvertedVariant } from '../../src-main/models/gguf/weight-source.ts'
import { STORIES_GGUF, STORIES_PPL_TEXT, storiesMissing } from '../stories-fixture.ts'

export interface PplRow extends Perplexity {
  model: string
  /** Perplexity over the fp32 conversion's; null for a folder scored alone. */
  vsFp32: number | null
}

/** Scores a model folder's default variant on `text`, which starts with the tokenizer's BOS. */
export async function scoreFolder(dir: string, text: string, variant?: ConvertedVariant, kvDtype?: KvDtype): Promise<Perplexity> {
  const loaded = await loadModel(dir, { providers: ['cpu'], ...(variant ? { variant } : {}), ...(kvDtype ? { kvDtype } : {}) })
  try {
    return await perplexity(loaded.session, loaded.tokenizer.encode(text, { addSpecialTokens: true }))
  } finally {
    await loaded.session.release()
  }
}

export async function runPplBench(args: string[]): Promise<PplRow[]> {
  const { values } = parseArgs({ args, options: { model: { type: 'string' }, text: { type: 'string' } } })
  const text = await readFile(values.text ?? STORIES_PPL_TEXT, 'utf8')
  if (values.model) return [{ model: values.model, ...(await scoreFolder(values.model, text)), vsFp32: null }]
  const missing = storiesMissing()
  if (missing) throw new Error(missing)
  const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-ppl-'))
  try {
    const rows: PplRow[] = []
    const add = (model: string, score: Perplexity): void => {
      rows.push({ model: `stories260K ${model}`, ...score, vsFp32: rows[0] ? score.perplexity / rows[0].perplexity : 1 })
    }
    for (const precision of ['fp32', 'q8', 'q4'] as const) {
      const dir = path.join(root, precision)
      await convertGguf(STORIES_GGUF, dir, { precision })
      add(precision, await scoreFolder(dir, text, precision))
      add(`${precision}, KV cache fp16`, await scoreFolder(dir, text, precision, 'float16'))
      if (precision === 'q4') {
        const int8 = path.join(root, 'q4-int8')
        await withInt8Activations(dir, int8)
        add('q4, int8 activations (accuracy_level 4)', await scoreFolder(int8, text, precision))
      }
    }
    return rows
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

/** A copy of the q4 folder whose 4-bit matmuls quantize their activations to int8 (accuracy_level 4). */
async function withInt8Activations(dir: string, out: string): Promise<void> {
  await cp(dir, out, { recursive: true })
  const file = path.join(out, 'onnx', 'model_q4.onnx')
  const model = onnx.ModelProto.decode(await readFile(file))
  let changed = 0
  for (const node of model.graph?.node ?? []) {
    if (node.opType !== 'MatMulNBits') continue
    node.attribute = [...(node.attribute ?? []).filter((a) => a.name !== 'accuracy_level'), { name: 'accuracy_level', type: onnx.AttributeProto.AttributeType.INT, i: 4 }]
    changed++
  }
  if (changed === 0) throw new Error(`${file} has no MatMulNBits to give int8 activations`)
  await writeFile(file, onnx.ModelProto.encode(model).finish())
}
