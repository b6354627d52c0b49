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

// A fence toggles code; a sentence ends at . ! ? … (optionally closed by quotes or brackets) before
// whitespace, or at a blank line.
const MARK = /```|[.!?…]+["')\]]*(?=\s)|\n\s*\n/g
// The start of a mark that more text could complete: scanning resumes there next time.
const PARTIAL = /(?:`{1,2}|[.!?…]+["')\]]*|\n\s*)$/

/** Reads one growing reply sentence by sentence, scanning each character about once. */
export class SentenceReader {
  /** Where the sentence not yet read begins; always outside a code fence. */
  #start: number
  /** Marks before this offset are handled; `#inFence` tells whether it lies inside a fence. */
  #scanned: number
  #inFence = false

  /** `from`: the offset the reply streams on from (a continued reply's earlier text was read before). */
  constructor(from = 0) {
    this.#start = from
    this.#scanned = from
  }

  /**
   * The sentences `text` completes since the last call; `text` extends the last one. With `final`,
   * the unfinished tail counts as a sentence too. An unclosed code fence holds back what follows it.
   */
  read(text: string, final: boolean): string[] {
    const sentences: string[] = []
    MARK.lastIndex = this.#scanned
    for (let match = MARK.exec(text); match; match = MARK.exec(text)) {
      this.#scanned = MARK.lastIndex
      if (match[0] === '```') this.#inFence = !this.#inFence
      else if (!this.#inFence) this.#take(text, this.#scanned, sentences)
    }
    this.#scanned = text.length - (PARTIAL.exec(text.slice(this.#scanned))?.[0].length ?? 0)
    if (final) this.#take(text, text.length, sentences)
    return sentences
  }

  #take(text: string, end: number, sentences: string[]): void {
    const sentence = speakable(text.slice(this.#start, end))
    if (sentence) sentences.push(sentence)
    this.#start = end
  }
}
