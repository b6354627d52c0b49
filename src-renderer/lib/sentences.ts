// Splits a growing reply into whole sentences for the screen-reader live region.
// Announcing per token floods a screen reader; by sentence it reads like speech.

/** Markdown noise a screen reader would spell out. */
function speakable(text: string): string {
  return text
    .replace(/```[\s\S]*?(```|$)/g, ' (code block) ')
    .replace(/[*_`#>|]+/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim()
}

// A sentence ends at . ! ? … (optionally closed by quotes or brackets) before whitespace, or at a blank line.
const BOUNDARY = /[.!?…]+["')\]]*(?=\s)|\n\s*\n/g

/**
 * Returns the sentences completed in `text` after offset `from`, and the offset just past the last
 * one. With `final`, the unfinished tail counts as a sentence too. Unclosed code fences hold back.
 */
export function takeSentences(text: string, from: number, final: boolean): { sentences: string[]; next: number } {
  const sentences: string[] = []
  let start = from
  const tail = text.slice(from)
  const fenceOpen = (tail.match(/```/g)?.length ?? 0) % 2 === 1
  const limit = fenceOpen && !final ? from + tail.lastIndexOf('```') : text.length
  BOUNDARY.lastIndex = from
  for (let match = BOUNDARY.exec(text); match && match.index + match[0].length <= limit; match = BOUNDARY.exec(text)) {
    const end = match.index + match[0].length
    const inFence = ((text.slice(start, end).match(/```/g)?.length ?? 0) % 2) === 1
    if (inFence) continue
    const sentence = speakable(text.slice(start, end))
    if (sentence) sentences.push(sentence)
    start = end
  }
  if (final && start < text.length) {
    const rest = speakable(text.slice(start))
    if (rest) sentences.push(rest)
    start = text.length
  }
  return { sentences, next: start }
}
