// Incremental detokenizer: token ids in, text out, never a broken character.
//
// Each token maps to bytes (TokenBytes); the bytes go through a streaming UTF-8 decoder, which
// keeps an incomplete sequence until its last byte arrives. On top of that the last grapheme
// cluster is held back until the next token shows it is complete: a ZWJ emoji, a skin-tone
// modifier, a variation selector or a combining mark may still follow. So every chunk is whole
// user-perceived characters, at the cost of one token of delay. O(1) amortised per token: the
// work is proportional to the new text plus the one held-back cluster.

/** What the stream needs from a tokenizer: the bytes each token stands for. */
export interface TokenBytes {
  /** UTF-8 bytes of the token's text; empty for special tokens that never reach the user. */
  tokenBytes(id: number): Uint8Array
  /** SentencePiece-style tokenizers drop the space that starts the decoded text. */
  readonly stripsLeadingSpace: boolean
}

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' })

/** One stream per generation: feed the generated tokens in order, then flush once. */
export class TextStream {
  // ignoreBOM: a U+FEFF the model writes is text, not a byte-order mark to drop.
  private readonly utf8 = new TextDecoder('utf-8', { ignoreBOM: true })
  /** The last grapheme cluster seen, not yet known to be complete. */
  private held = ''
  private started = false

  constructor(private readonly tokens: TokenBytes) {}

  /** Feeds one generated token; returns the text that is now complete (often ''). */
  push(id: number): string {
    const bytes = this.tokens.tokenBytes(id)
    if (bytes.length === 0) return ''
    return this.emit(this.utf8.decode(bytes, { stream: true }), false)
  }

  /** Ends the stream: returns everything still held back (an incomplete sequence becomes U+FFFD). */
  flush(): string {
    return this.emit(this.utf8.decode(), true)
  }

  private emit(decoded: string, final: boolean): string {
    let text = decoded
    if (!this.started && text !== '') {
      this.started = true
      if (this.tokens.stripsLeadingSpace && text.startsWith(' ')) text = text.slice(1)
    }
    const pending = this.held + text
    if (final || pending === '') {
      this.held = ''
      return pending
    }
    const last = graphemes.segment(pending).containing(pending.length - 1)
    const cut = last?.index ?? 0
    this.held = pending.slice(cut)
    return pending.slice(0, cut)
  }
}
