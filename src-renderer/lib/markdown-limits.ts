// Marked's lexer for model output, which is untrusted: structural limits keep its work linear in the
// output's length (marked recurses once per nesting level and has quadratic paths: 6 KB of `- > `
// overflowed its stack), and raw HTML stays text. Text within the limits lexes as marked lexes it.

import { Lexer, Tokenizer, type MarkedOptions, type Token, type Tokens } from 'marked'

/** Block quotes and lists nested deeper than this are text: marked recurses, and re-lexes the content, once per level. */
export const MAX_NESTING = 16

/**
 * An inline run (a paragraph, a heading, a cell, an item's text) with more delimiters than this is
 * plain text: emphasis, links and code spans each scan ahead for their closer, so marked's work grows
 * with delimiters × length (`'*a'.repeat(50000)` took seconds).
 */
export const MAX_INLINE_DELIMITERS = 256

/**
 * Lines a setext heading's text may span. Marked tries the heading rule on every line of an item's
 * text and the rule scans to the paragraph's end: quadratic in the lines of a long list item.
 */
export const MAX_SETEXT_LINES = 32

/**
 * Lists and block quotes longer than this many characters are lexed in parts, each a list or quote
 * of its own, cut before a line that starts an item (ends a quoted paragraph) in the next 2 KB where
 * there is one. Marked copies a list item's text once per line it appends, and a quote's remaining
 * lines once per lazy line in it: its work grows with the square of a container's length.
 */
export const MAX_LIST = 16_384
export const MAX_QUOTE = 4096
const CUT_WINDOW = 2048
/** A line a list part may start with: an item at the margin. */
const ITEM_LINE = /\n(?:[*+-]|\d{1,9}[.)])(?:[ \t]|\n|$)/
/** A line a quote part may start with: the one after an empty quoted line. */
const AFTER_EMPTY_QUOTED = /\n {0,3}>[ \t]*\n/

/** `src` cut at a line boundary after `max` characters, at the first `cut` line within CUT_WINDOW if there is one. */
function cutAfter(src: string, max: number, cut: RegExp): string {
  if (src.length <= max) return src
  const line = src.indexOf('\n', max)
  if (line === -1) return src
  const at = src.slice(line, line + CUT_WINDOW).search(cut)
  return src.slice(0, at === -1 ? line + 1 : line + at + 1)
}

/** Text as HTML: the characters HTML gives meaning to, escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

/** Characters that open an inline construct whose closer marked searches for: `*` `_` `~` `` ` `` `[` `]` `<`. */
const DELIMITERS = new Set([42, 95, 126, 96, 91, 93, 60])

function tooManyDelimiters(src: string): boolean {
  let count = 0
  for (let i = 0; i < src.length; i++) {
    if (DELIMITERS.has(src.charCodeAt(i)) && ++count > MAX_INLINE_DELIMITERS) return true
  }
  return false
}

/** An inline run as escaped text, its line breaks kept (the renderer runs with `breaks: true`). */
function plainInline(src: string): Token[] {
  return src.split('\n').flatMap((line, i): Token[] => {
    const text: Tokens.Text = { type: 'text', raw: line, text: escapeHtml(line), escaped: true }
    return i === 0 ? [text] : [{ type: 'br', raw: '\n' }, text]
  })
}

/** The index of the `n`th newline in `src` (counting from 1), or -1. */
function nthNewline(src: string, n: number): number {
  let at = -1
  for (let i = 0; i < n; i++) {
    at = src.indexOf('\n', at + 1)
    if (at === -1) return -1
  }
  return at
}

class BoundedTokenizer<P, R> extends Tokenizer<P, R> {
  #depth = 0

  override blockquote(src: string): Tokens.Blockquote | undefined {
    return this.#nested(() => super.blockquote(cutAfter(src, MAX_QUOTE, AFTER_EMPTY_QUOTED)))
  }

  override list(src: string): Tokens.List | undefined {
    return this.#nested(() => super.list(cutAfter(src, MAX_LIST, ITEM_LINE)))
  }

  override lheading(src: string): Tokens.Heading | undefined {
    // The rule is lazy: it matches the first lines alone exactly when it matches a heading within them.
    const end = nthNewline(src, MAX_SETEXT_LINES + 1)
    if (end !== -1 && !this.rules.block.lheading.test(src.slice(0, end + 1))) return undefined
    return super.lheading(src)
  }

  override inlineText(src: string): Tokens.Text | undefined {
    // After an inline <pre>, <code>, <kbd> or <script>, marked passes text on as raw HTML, unescaped:
    // here raw HTML is text (the renderer escapes the tag itself), so what follows it is text too.
    const token = super.inlineText(src)
    if (token?.escaped) token.text = escapeHtml(token.text)
    return token
  }

  #nested<T>(tokenize: () => T | undefined): T | undefined {
    if (this.#depth >= MAX_NESTING) return undefined
    this.#depth++
    try {
      return tokenize()
    } finally {
      this.#depth--
    }
  }
}

/** Marked's lexer with the limits above; each lexer has its own tokenizer, so nesting is counted per lexer. */
export class BoundedLexer<P = string, R = string> extends Lexer<P, R> {
  constructor(options: MarkedOptions<P, R>) {
    super({ ...options, tokenizer: new BoundedTokenizer<P, R>() })
  }

  override inlineTokens(src: string, tokens: Token[] = []): Token[] {
    if (!tooManyDelimiters(src)) return super.inlineTokens(src, tokens)
    tokens.push(...plainInline(src))
    return tokens
  }
}

/** `provideLexer` for a Marked instance: its parse and lexer calls go through BoundedLexer too. */
export function boundedLex(block: boolean | undefined): typeof Lexer.lexInline {
  return block ? (src, options) => new BoundedLexer(options ?? {}).lex(src) : (src, options) => new BoundedLexer(options ?? {}).inlineTokens(src)
}
