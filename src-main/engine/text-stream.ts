// Incremental detokenizer: token ids in, text out, never a broken character.
//
// Each token maps to bytes (TokenBytes); bytes are decoded as UTF-8 in streaming mode, and the
// last grapheme cluster is held back until the next token shows it is complete (a ZWJ emoji, a
// skin-tone modifier or a combining mark may still follow). O(1) amortised per token.

/** What the stream needs from a tokenizer: the bytes each token stands for. */
export interface TokenBytes {
  /** UTF-8 bytes of the token's text; empty for special tokens that never reach the user. */
  tokenBytes(id: number): Uint8Array
  /** SentencePiece-style tokenizers drop the space that starts the decoded text. */
  readonly stripsLeadingSpace: boolean
}

export class TextStream {
  constructor(private readonly tokens: TokenBytes) {}

  /** Feeds one generated token; returns the text that is now complete (often ''). */
  push(id: number): string {
    throw new Error(`TextStream#push(${id}): not implemented yet ${this.tokens.stripsLeadingSpace}`)
  }

  /** Ends the stream: returns everything still held back (an incomplete sequence becomes U+FFFD). */
  flush(): string {
    throw new Error('TextStream#flush: not implemented yet')
  }
}
