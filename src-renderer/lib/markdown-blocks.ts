// A reply as top-level markdown blocks, each rendered once: a streaming reply re-lexes and re-renders only its tail.

import { Lexer, type Links, type Token, type Tokens } from 'marked'
import { codeBlock, marked } from './markdown-html.ts'

/** One top-level token to HTML; `highlight` is false for a code fence that has not closed yet. */
export type RenderBlock = (token: Token, highlight: boolean) => string

export const renderBlock: RenderBlock = (token, highlight) =>
  token.type === 'code' && !highlight ? codeBlock(token as Tokens.Code, false) : marked.parser([token])

// [TAG_LIVE_BLOCKS] A block is final once two blank lines separate it from the end: it lies before
// the last two groups of blocks, a group being the blocks between blank lines. Within a group, a line
// can rewrite the blocks before it ("  -" splits "a\n2. b" into a paragraph and a list; a table's
// delimiter row takes the line above as its header), and across one blank line a list or indented
// code can take the next group in ("1" under "1. a" becomes "1." and joins that list). Two reach
// further: a reference definition arriving later (so blocks also key on the definitions they cite)
// and a definition's unclosed title, which may close lines later (so nothing past one becomes final).
const LIVE_GROUPS = 2

/** A paragraph that starts like a reference definition with an unclosed title: `[a]: /url "not yet`. */
const OPEN_TITLE = /^ {0,3}\[(?:\\[\s\S]|[^[\]\\])+\]:[ \t]*\n?[ \t]*\S+(?:[ \t]+|[ \t]*\n[ \t]*)["'(]/

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

  constructor(render: RenderBlock = renderBlock) {
    this.#render = render
  }

  /** The HTML of each top-level block of `source`, which usually extends the last source by a few characters. */
  update(source: string, streaming: boolean): string[] {
    if (this.#last?.source === source && this.#last.streaming === streaming) return this.#last.html
    const text = source.includes('\r') ? source.replace(/\r\n?/g, '\n') : source
    if (!text.startsWith(this.#stable)) this.#restart()
    const tail = text.slice(this.#stable.length)
    const lexer = new Lexer(marked.defaults)
    Object.assign(lexer.tokens.links, this.#links)
    const tokens = lexer.lex(tail)
    const links = lexer.tokens.links

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
    this.#blocks[index] = { raw: token.raw, text, highlight, labels, refs, html: this.#render(token, highlight) }
  }

  /** A final block citing a definition that arrived or changed: lexed again on its own, with every definition. */
  #relink(index: number, links: Links): void {
    const block = this.#blocks[index]!
    if (!block.labels.length || refsOf(block.labels, links) === block.refs) return
    const lexer = new Lexer(marked.defaults)
    Object.assign(lexer.tokens.links, links)
    const html = lexer.lex(block.raw).filter((token) => token.type !== 'space').map((token) => this.#render(token, true))
    this.#blocks[index] = { ...block, refs: refsOf(block.labels, links), html: html.join('') }
  }
}
