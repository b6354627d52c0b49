// Which models can draft for which: the same vocabulary (token ids mean the same text), the
// same logits width, and fewer parameters. Read by main (to offer drafts) and the engine (to check one).

import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../src-shared/errors.ts'
import type { ModelSummary } from '../../src-shared/types.ts'

type ValidModel = Extract<ModelSummary, { valid: true }>

/** Per tokenizer.json path, the fingerprint of the file as it was at that mtime and size. */
const cache = new Map<string, { mtimeMs: number; size: number; fingerprint: string }>()

/**
 * sha256 (hex) of the vocabulary as the folder's tokenizer.json states it: the model type, every
 * token with its id, the merges (BPE) or scores (Unigram), and the added tokens with their ids.
 *
 * Ids-to-text needs only the tokens; the merges and scores are in because they decide which ids
 * a text becomes, so a draft model was trained on the same token sequences the target sees.
 * Real families share them exactly (SmolLM2 135M/360M/1.7B, Qwen2.5 0.5B to 3B). Left out: the
 * normalizer, pre-tokenizer, decoder and post-processor, which exports of one family write
 * differently (tokenizers versions, the GGUF importer) while the ids stay the same — and the
 * draft model is always fed the target's own token ids, never text.
 *
 * Cached per file mtime and size: Qwen's tokenizer.json is 7 MB. Throws MODEL_INVALID when the
 * file is missing or has no vocabulary.
 */
export async function vocabularyFingerprint(modelDir: string): Promise<string> {
  const file = path.resolve(modelDir, 'tokenizer.json')
  const info = await stat(file).catch(() => null)
  if (!info?.isFile()) throw new AppError('MODEL_INVALID', `${file} is missing`)
  const cached = cache.get(file)
  if (cached?.mtimeMs === info.mtimeMs && cached.size === info.size) return cached.fingerprint
  const fingerprint = fingerprintOf(await readTokenizer(file))
  cache.set(file, { mtimeMs: info.mtimeMs, size: info.size, fingerprint })
  return fingerprint
}

/**
 * The installed models that can draft for `target`, smallest first: valid, not the target, the
 * same vocabulary fingerprint, the same config vocab_size, and fewer parameters.
 *
 * vocab_size is the width of the logits, often padded past the tokenizer's last id (Qwen2.5 0.5B
 * to 3B: 151,936 for 151,665 ids; 7B and up: 152,064). The fingerprint already says every id means
 * the same text; the width must match as well because verification compares the two models'
 * distributions over whole logit rows. A model whose size cannot be estimated is not offered.
 */
export async function draftCandidates(target: ValidModel, models: readonly ModelSummary[]): Promise<ValidModel[]> {
  const targetPrint = await vocabularyFingerprint(target.dir)
  if (target.parameters === null) return []
  const targetParameters = target.parameters
  const sized = models.filter(
    (m): m is ValidModel & { parameters: number } =>
      m.valid && m.id !== target.id && m.vocabSize === target.vocabSize && m.parameters !== null && m.parameters < targetParameters,
  )
  // A folder whose tokenizer cannot be read is simply no candidate.
  const prints = await Promise.all(sized.map((m) => vocabularyFingerprint(m.dir).catch(() => null)))
  return sized.filter((_, i) => prints[i] === targetPrint).sort((a, b) => a.parameters - b.parameters)
}

interface TokenizerTables {
  type: string
  /** token → id; Unigram's [piece, score] list gives ids by position. */
  vocab: Record<string, number> | [string, number][]
  merges: (string | [string, string])[]
  added: { id: number; content: string; special: boolean }[]
}

async function readTokenizer(file: string): Promise<TokenizerTables> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    throw new AppError('MODEL_INVALID', `${file} cannot be read as JSON (${(err as Error).message})`)
  }
  const root = isObject(json) ? json : {}
  const model = isObject(root.model) ? root.model : null
  const vocab = model?.vocab
  if (model === null || !(isObject(vocab) || Array.isArray(vocab))) throw new AppError('MODEL_INVALID', `${file} has no vocabulary`)
  const added = Array.isArray(root.added_tokens) ? root.added_tokens.filter(isObject) : []
  return {
    type: typeof model.type === 'string' ? model.type : '',
    vocab: vocab as TokenizerTables['vocab'],
    merges: Array.isArray(model.merges) ? (model.merges as TokenizerTables['merges']) : [],
    added: added.map((t) => ({ id: Number(t.id), content: String(t.content), special: t.special === true })),
  }
}

function fingerprintOf(t: TokenizerTables): string {
  const hash = createHash('sha256')
  hash.update(`type ${JSON.stringify(t.type)}\n`)
  // Unigram: the score decides the segmentation as merges do for BPE.
  const tokens: [number, string, number | null][] = Array.isArray(t.vocab)
    ? t.vocab.map(([piece, score], id) => [id, String(piece), Number(score)])
    : Object.entries(t.vocab).map(([token, id]) => [Number(id), token, null])
  tokens.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
  for (const [id, token, score] of tokens) hash.update(`token ${id} ${JSON.stringify(token)}${score === null ? '' : ` ${score}`}\n`)
  // Merges are written "a b" by older tokenizers and ["a", "b"] by newer ones: one form here.
  for (const merge of t.merges) {
    const pair = typeof merge === 'string' ? splitMerge(merge) : merge
    hash.update(`merge ${JSON.stringify(pair)}\n`)
  }
  const added = [...t.added].sort((a, b) => a.id - b.id)
  for (const { id, content, special } of added) hash.update(`added ${id} ${JSON.stringify(content)} ${special}\n`)
  return hash.digest('hex')
}

/** "a b" → ["a", "b"]: tokens hold no plain space (byte-level writes Ġ, SentencePiece ▁), as tokenizers assumes. */
function splitMerge(merge: string): [string, string] {
  const at = merge.indexOf(' ')
  return at < 0 ? [merge, ''] : [merge.slice(0, at), merge.slice(at + 1)]
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
