// The one trained model at hand: Karpathy's stories260K as a GGUF, shipped beside the repository
// in shared/fixtures (read its README), with the text greedy decoding from <s> must reproduce.

import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The fixture's GGUF: shared/ sits beside the repository's root, in a checkout and in CI alike. */
export const STORIES_GGUF = process.env.HEARTH_STORIES_GGUF ?? path.join(ROOT, '..', 'shared', 'fixtures', 'stories260K', 'stories260K.gguf')

/** Why a test of the real model cannot run here, or null when it can. */
export function storiesMissing(): string | null {
  return existsSync(STORIES_GGUF) ? null : `the stories260K fixture is not at ${STORIES_GGUF} (set HEARTH_STORIES_GGUF)`
}

/** Greedy decoding from <s> alone, word for word as llama2.c's run prints it (the fixture's README). */
export const STORIES_REFERENCE =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ' +
  'One day, she saw a big, red ball. She wanted to play with it, but it was too high.'

/** A TinyStories-style text written for this project, for the perplexity figure. */
export const STORIES_PPL_TEXT = path.join(ROOT, 'tools', 'bench', 'stories-ppl.txt')
