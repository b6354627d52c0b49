// Per-token cost of the decode loop's text side at Qwen2.5's vocab (151936): the sampler under
// the settings people use, the streaming detokenizer and the stop-string matcher, next to a
// plain argmax loop over the same logits as the floor to read them against.

import { createRng, sample } from '../../src-main/engine/sampler.ts'
import type { Rng, SamplerParams } from '../../src-main/engine/sampler.ts'
import { StopMatcher } from '../../src-main/engine/stops.ts'
import { TextStream } from '../../src-main/engine/text-stream.ts'
import { createChatTokenizer } from '../../src-main/engine/tokenizer.ts'
import { buildTokenizerFiles } from '../model-builder/tokenizer.ts'
import { median } from './stats.ts'

export interface SamplerBenchFigures {
  vocab: number
  /** Median microseconds per call, over `rounds` rounds of `callsPerRound` calls each. */
  argmaxFloorUs: number
  greedyUs: number
  /** Every stage on (the app's defaults until models supplied their own): temperature 0.7, top-k 40, top-p 0.95, min-p 0.05, penalty 1.1 over 512 tokens. */
  defaultUs: number
  /** Top-p 0.9 over the whole vocab (top-k off): the bucketed path. */
  topPOnlyUs: number
  /** TextStream#push per token, on the builder's tokens for mixed English, CJK and emoji text. */
  textStreamUs: number
  /** StopMatcher#push per token's text, with two stop strings. */
  stopsUs: number
  rounds: number
  callsPerRound: number
}

const VOCAB = 151_936
const STREAM_TEXT = 'The capital of France is Paris. 日本語のテキスト 👨‍👩‍👧 e\u0301 — done! '.repeat(40)

/** Logits shaped like a model's: a broad Gaussian-ish floor and a few strong candidates. */
function modelLikeLogits(rng: Rng): Float32Array {
  const logits = new Float32Array(VOCAB)
  for (let i = 0; i < VOCAB; i++) logits[i] = (rng.next() + rng.next() + rng.next() - 1.5) * 4
  for (let k = 0; k < 20; k++) logits[Math.floor(rng.next() * VOCAB)] = 8 + rng.next() * 6
  return logits
}

function argmaxFloor(logits: Float32Array): number {
  let best = 0
  for (let i = 1; i < logits.length; i++) if ((logits[i] as number) > (logits[best] as number)) best = i
  return best
}

function timeUs(rounds: number, calls: number, fn: () => void): number {
  for (let i = 0; i < calls; i++) fn()
  const perCall: number[] = []
  for (let r = 0; r < rounds; r++) {
    const t = performance.now()
    for (let i = 0; i < calls; i++) fn()
    perCall.push(((performance.now() - t) * 1000) / calls)
  }
  return median(perCall)
}

export function runSamplerBench(opts: { rounds?: number; callsPerRound?: number } = {}): SamplerBenchFigures {
  const rounds = opts.rounds ?? 7
  const callsPerRound = opts.callsPerRound ?? 50
  const rng = createRng(1)
  const logits = modelLikeLogits(rng)
  const recent = Array.from({ length: 512 }, () => Math.floor(rng.next() * VOCAB))
  const run = (params: SamplerParams): number =>
    timeUs(rounds, callsPerRound, () => sample(logits, params, rng, recent))

  // Each timed loop keeps its last result, checked afterwards, so none of the work is dead code.
  let floorPick = -1
  const argmaxFloorUs = timeUs(rounds, callsPerRound, () => {
    floorPick = argmaxFloor(logits)
  })
  const greedy = { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 }
  const greedyUs = run(greedy)
  if (sample(logits, greedy, rng, recent) !== floorPick) throw new Error('greedy sampling disagrees with argmax')

  const tokenizer = createChatTokenizer(buildTokenizerFiles({ vocabSize: VOCAB, seed: 1 }))
  const ids = tokenizer.encode(STREAM_TEXT)
  let streamed = ''
  const textStreamUs =
    timeUs(rounds, 1, () => {
      const stream = new TextStream(tokenizer)
      streamed = ids.map((id) => stream.push(id)).join('') + stream.flush()
    }) / ids.length
  if (streamed !== STREAM_TEXT) throw new Error('the text stream lost text')
  const pieces = ids.map((id) => tokenizer.decode([id]))
  let shown = ''
  const stopsUs =
    timeUs(rounds, 1, () => {
      const stops = new StopMatcher(['\nUser:', '</answer>'])
      shown = pieces.map((piece) => stops.push(piece).text).join('') + stops.flush()
    }) / pieces.length
  if (shown !== pieces.join('')) throw new Error('the stop matcher lost text')

  return {
    vocab: VOCAB,
    argmaxFloorUs,
    greedyUs,
    defaultUs: run({ temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1 }),
    topPOnlyUs: run({ temperature: 0.8, topK: 0, topP: 0.9, minP: 0, repetitionPenalty: 1 }),
    textStreamUs,
    stopsUs,
    rounds,
    callsPerRound,
  }
}
