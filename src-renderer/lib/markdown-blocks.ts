// A reply as top-level markdown blocks, each rendered once: a streaming reply re-lexes and re-renders only its tail.
// Model output is untrusted: a block that marked fails on is shown as plain text, and the others still render.

import type { Links, Token, Tokens } from 'marked'
import { codeBlock, marked, plainBlock } from './markdown-html.ts'
import { BoundedLexer } from './markdown-limits.ts'

/** One top-level token to HTML; `highlight` is false for a code fence that has not closed yet. */
export type RenderBlock = (token: Token, highlight: boolean) => string

/** Top-level tokens of `text` and the definitions known after it, given those made before it. */
export type LexBlocks = (text: string, links: Links) => { tokens: Token[]; links: Links }

/** A chunk of text marked failed on: rendered as the text itself. */
const PLAIN = 'plain'

export const renderBlock: RenderBlock = (token, highlight) => {
  if (token.type === PLAIN) return plainBlock(token.raw)
  return token.type === 'code' && !highlight ? codeBlock(token as Tokens.Code, false) : marked.parser([token])
}

export const lexBlocks: LexBlocks = (text, links) => {
  const lexer = new BoundedLexer(marked.defaults)
  Object.assign(lexer.tokens.links, links)
  return { tokens: lexer.lex(text), links: lexer.tokens.links }
}

/** `text` cut after each run of blank lines: no block but fenced code, HTML and lists goes on past one. */
function chunksOf(text: string): string[] {
  const chunks: string[] = []
  let start = 0
  for (const blank of text.matchAll(/\n[ \t]*\n(?:[ \t]*\n)*/g)) {
    chunks.push(text.slice(start, blank.index + blank[0].length))
    start = blank.index + blank[0].length
  }
  return start < text.length ? [...chunks, text.slice(start)] : chunks
}

/**
 * `lex`, and should it fail, `lex` on each chunk alone (a fence or list across a blank line then
 * splits), a chunk it still fails on being one plain token: the tokens' raw text covers `text`.
 */
function lexSafely(lex: LexBlocks, text: string, known: Links): { tokens: Token[]; links: Links } {
  try {
    return lex(text, known)
  } catch {
    const tokens: Token[] = []
    let links = known
    for (const chunk of chunksOf(text)) {
      try {
        const lexed = lex(chunk, links)
        tokens.push(...lexed.tokens)
        links = lexed.links
      } catch {
        tokens.push({ type: PLAIN, raw: chunk })
      }
    }
    return { tokens, links }
  }
}

// [TAG_LIVE_BLOCKS] A block is final once two blank lines separate it from the end: it lies before
// the last two groups of blocks, a group being the blocks between blank lines. Within a group, a line
// can rewrite the blocks before it ("  -" splits "a\n2. b" into a paragraph and a list; a table's
// delimiter row takes the line above as its header), and across one blank line a list or indented
// code can take the next group in ("1" under "1. a" becomes "1." and joins that list). Two reach
// further: a reference definition arriving later (so blocks also key on the definitions they cite)
// and a definition's unclosed title, which may close lines later (so nothing past one becomes final).
const LIVE_GROUPS = 2

/**
 * A paragraph that starts like a reference definition with an unclosed title: `[a]: /url "not yet`.
 * Each run of blanks has one way to match: `[ \t]*\n?[ \t]*` took seconds on a line of 40,000 blanks.
 */
const OPEN_TITLE = /^ {0,3}\[(?:\\[\s\S]|[^[\]\\])+\]:[ \t]*(?:\n[ \t]*)?\S+(?:[ \t]+|[ \t]*\n[ \t]*)["'(]/

/** Tokens before this index are final: see [TAG_LIVE_BLOCKS]. */
function liveFrom(tokens: Token[]): number {
  let groups = 0
  let inGroup = false
  let from = 0
  for (let i = tokens.length - 1; i >= 0 && groups < LIVE_GROUPS; i--) {
    const token = tokens[i]!
    if (token.type !== 'space') inGroup = true
    else if (inGroup && /\n[ \t]*\n/.test((tokens[i - 1]?.raw.endsWith('\n') ? '\n' : '') + token.raw)) {
      inGroup = false
      if (++groups === LIVE_GROUPS) from = i + 1
    }
  }
  const open = tokens.findIndex((token, i) => i < from && token.type === 'paragraph' && OPEN_TITLE.test(token.raw))
  return open === -1 ? from : open
}

/** A fenced code block with no closing fence line yet: highlighting it now would be redone every frame. */
function isOpenFence(token: Token): boolean {
  if (token.type !== 'code' || token.codeBlockStyle === 'indented') return false
  const lines = token.raw.split('\n')
  const fence = /^ {0,3}(`{3,}|~{3,})/.exec(lines[0] ?? '')?.[1] ?? '```'
  const close = new RegExp(`^ {0,3}${fence[0]}{${fence.length},}[\`~]* *$`)
  // The closing line counts once a newline ends it: "```" may still grow into "```js" and reopen.
  return !(lines.length > 2 && lines.at(-1) === '' && close.test(lines.at(-2) ?? ''))
}

/** Labels in brackets: whatever reference links a block might use, normalised as marked does. */
function labelsOf(raw: string): string[] {
  if (!raw.includes('[')) return []
  const labels = raw.matchAll(/\[((?:\\[\s\S]|[^[\]\\])+)\]/g)
  return [...labels].map((m) => m[1]!.trim().replace(/\s+/g, ' ').toLowerCase().toUpperCase().toLowerCase())
}

/** The definitions `labels` resolve to in `links`: a block renders differently exactly when this changes. */
function refsOf(labels: string[], links: Links): string {
  let refs = ''
  for (const label of labels) {
    const def = links[label]
    if (def) refs += `${label}\u0000${def.href}\u0000${def.title ?? ''}\u0001`
  }
  return refs
}

interface Block {
  raw: string
  /** Marked can lex one raw text two ways that differ by a trailing newline in `text`. */
  text: string
  highlight: boolean
  labels: string[]
  refs: string
  html: string
}

/** Renders successive versions of one message's markdown, keeping every block whose text stayed the same. */
export class BlockStream {
  readonly #render: RenderBlock
  readonly #lex: LexBlocks
  /** Rendered blocks by index; the first #final are final and cover the text up to #stable. */
  #blocks: Block[] = []
  #final = 0
  #stable = ''
  /** Definitions made by the final blocks: the tail is lexed with them, as if lexed with the whole text. */
  #links: Links = Object.create(null)
  /** Every definition seen last update, to notice one that arrived or changed. */
  #linksKey = ''
  /** The last update's arguments and result: a finished message mounted again costs nothing. */
  #last: { source: string; streaming: boolean; html: string[] } | null = null

  constructor(render: RenderBlock = renderBlock, lex: LexBlocks = lexBlocks) {
    this.#render = render
    this.#lex = lex
  }

  /** The HTML of each top-level block of `source`, which usually extends the last source by a few characters. */
  update(source: string, streaming: boolean): string[] {
    if (this.#last?.source === source && this.#last.streaming === streaming) return this.#last.html
    const text = source.includes('\r') ? source.replace(/\r\n?/g, '\n') : source
    if (!text.startsWith(this.#stable)) this.#restart()
    const tail = text.slice(this.#stable.length)
    const { tokens, links } = lexSafely(this.#lex, tail, this.#links)

    const linksKey = JSON.stringify(links)
    if (linksKey !== this.#linksKey) {
      this.#linksKey = linksKey
      for (let i = 0; i < this.#final; i++) this.#relink(i, links)
    }

    // Offsets come from the tokens' raw text; should marked ever drop a character, nothing becomes final.
    const live = tokens.reduce((length, token) => length + token.raw.length, 0) === tail.length ? liveFrom(tokens) : 0

    let stable = this.#stable.length
    for (const token of tokens.slice(0, live)) {
      stable += token.raw.length
      if (token.type === 'space') continue
      this.#renderAt(this.#final++, token, true, links)
      marked.walkTokens([token], (t) => {
        if (t.type === 'def') this.#links[t.tag] ??= { href: t.href, title: t.title }
      })
    }
    this.#stable = text.slice(0, stable)

    let index = this.#final
    for (const [i, token] of tokens.entries()) {
      if (i < live || token.type === 'space') continue
      const growing = streaming && i === tokens.length - 1 && isOpenFence(token)
      this.#renderAt(index++, token, !growing, links)
    }
    this.#blocks.length = index
    this.#last = { source, streaming, html: this.#blocks.map((block) => block.html) }
    return this.#last.html
  }

  #restart(): void {
    this.#final = 0
    this.#stable = ''
    this.#links = Object.create(null)
  }

  /** Reuses the block at `index` when its text, highlighting and cited definitions are unchanged. */
  #renderAt(index: number, token: Token, highlight: boolean, links: Links): void {
    const old = this.#blocks[index]
    const text = 'text' in token && typeof token.text === 'string' ? token.text : ''
    const labels = old?.raw === token.raw ? old.labels : labelsOf(token.raw)
    const refs = refsOf(labels, links)
    if (old?.raw === token.raw && old.text === text && old.highlight === highlight && old.refs === refs) return
    this.#blocks[index] = { raw: token.raw, text, highlight, labels, refs, html: this.#renderSafely(token, highlight) }
  }

  #renderSafely(token: Token, highlight: boolean): string {
    try {
      return this.#render(token, highlight)
    } catch {
      return plainBlock(token.raw)
    }
  }

  /** A final block citing a definition that arrived or changed: lexed again on its own, with every definition. */
  #relink(index: number, links: Links): void {
    const block = this.#blocks[index]!
    if (!block.labels.length || refsOf(block.labels, links) === block.refs) return
    const { tokens } = lexSafely(this.#lex, block.raw, links)
    const html = tokens.filter((token) => token.type !== 'space').map((token) => this.#renderSafely(token, true))
    this.#blocks[index] = { ...block, refs: refsOf(block.labels, links), html: html.join('') }
  }
}

/**
 * Consecutive blocks joined into segments of at least `size` characters, each ending with the block
 * that reaches it: a reply of thousands of one-line blocks (a model repeating `---`) then costs a
 * sanitiser pass and a DOM insertion per segment rather than per block.
 */
export function segmentsOf(blocks: string[], size: number): string[] {
  const segments: string[] = []
  let open = ''
  for (const block of blocks) {
    open += block
    if (open.length >= size) {
      segments.push(open)
      open = ''
    }
  }
  return open ? [...segments, open] : segments
}
