// `npm run bench -- ppl`: the quality figure. Converts the trained stories260K GGUF at each
// precision the importer writes and reports the engine's perplexity on a TinyStories-style text,
// with each lever that changes numerics beside it: the KV cache kept in fp16, and for q4 its
// matmuls with exact (fp32) activations as well as the engine's default int8 ones
// (LoadOptions.int8Activations); `--model DIR` scores any model folder instead.

import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { KvDtype } from '../../src-shared/types.ts'
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
export async function scoreFolder(
  dir: string,
  text: string,
  variant?: ConvertedVariant,
  levers: { kvDtype?: KvDtype; int8Activations?: boolean } = {},
): Promise<Perplexity> {
  const loaded = await loadModel(dir, { providers: ['cpu'], ...(variant ? { variant } : {}), ...levers })
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
      // q4 first with exact activations, the baseline the int8 default is measured against.
      if (precision === 'q4') add('q4, fp32 activations', await scoreFolder(dir, text, precision, { int8Activations: false }))
      add(precision === 'q4' ? 'q4 (int8 activations, the default)' : precision, await scoreFolder(dir, text, precision))
      add(`${precision}, KV cache fp16`, await scoreFolder(dir, text, precision, { kvDtype: 'float16' }))
    }
    return rows
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}
