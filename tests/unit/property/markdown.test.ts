// The markdown renderer on any model output: no exception escapes, the HTML is made of the
// renderer's own elements and attributes only (raw HTML in the text stays text), and a reply
// rendered while it streamed ends as the finished reply renders. DOMPurify, which runs after this
// in the page, needs a DOM: the e2e markdown spec covers it.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { BlockStream } from '../../../src-renderer/lib/markdown-blocks.ts'
import { marked } from '../../../src-renderer/lib/markdown-html.ts'
import { runs } from './settings.ts'

/** KaTeX's MathML: what a $formula$ becomes. */
const MATHML = ['math', 'semantics', 'annotation', 'mrow', 'mi', 'mn', 'mo', 'ms', 'mtext', 'mspace', 'msup', 'msub', 'msubsup', 'mfrac', 'msqrt', 'mroot']
  .concat(['munder', 'mover', 'munderover', 'mtable', 'mtr', 'mtd', 'mstyle', 'mpadded', 'mphantom', 'menclose', 'merror'])
const MATHML_ATTRIBUTES = ['xmlns', 'display', 'encoding', 'mathvariant', 'stretchy', 'fence', 'separator', 'lspace', 'rspace', 'accent', 'accentunder']
  .concat(['columnalign', 'columnspacing', 'columnlines', 'rowspacing', 'rowlines', 'linethickness', 'scriptlevel', 'displaystyle', 'width', 'height'])
  .concat(['depth', 'minsize', 'maxsize', 'movablelimits', 'largeop', 'symmetric', 'notation', 'voffset'])

/** What marked and the code-block renderer write: tables, task boxes, hljs spans, the copy button, formulas; never a form control. */
const ELEMENTS = new Set(
  ['p', 'br', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'em', 'strong', 'del', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'a']
    .concat(['table', 'thead', 'tbody', 'tr', 'th', 'td', 'span', 'div', 'button'], MATHML),
)
const ATTRIBUTES = new Set(['href', 'title', 'class', 'start', 'align', 'type', 'aria-label', 'role', 'aria-checked', 'aria-disabled', ...MATHML_ATTRIBUTES])
const TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z-]+(?:="[^"<>]*")?)*)\s*\/?>/y
const ATTRIBUTE = /([a-zA-Z-]+)(?:="[^"<>]*")?/g

/** Every '<' opens a tag of ELEMENTS whose attributes are in ATTRIBUTES, each value quoted. */
function assertOwnMarkup(html: string): void {
  for (let at = html.indexOf('<'); at !== -1; at = html.indexOf('<', at + 1)) {
    TAG.lastIndex = at
    const tag = TAG.exec(html)
    assert.ok(tag, `a '<' that opens no well-formed tag: ${JSON.stringify(html.slice(at, at + 40))}`)
    assert.ok(ELEMENTS.has(tag[2]!), `element <${tag[2]}>`)
    for (const [, name] of tag[3]!.matchAll(ATTRIBUTE)) assert.ok(ATTRIBUTES.has(name!), `attribute ${name} on <${tag[2]}>`)
  }
}

/** Markdown's syntax, raw HTML and script, in any order and nesting, with text between. */
const fragment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('- ', '> ', '* ', '+ ', '1. ', '2) ', '# ', '## ', '###### ', '```', '```js\n', '```ts\nconst a = 1\n', '~~~\n', '`', '**', '__', '_', '*', '~~') },
  { weight: 3, arbitrary: fc.constantFrom('[', ']', '(', ')', '![', '](', '[a]', '[a]: /u "t"\n', '[b]: https://b.example\n', 'http://x.example/', 'www.example.com', 'x@y.example', '<https://a.example>') },
  { weight: 3, arbitrary: fc.constantFrom('<script>alert(1)</script>', '<pre>', '<kbd>x</kbd>', '<img/src=x onerror=alert(1)>', '<a/href="javascript:alert(1)">x</a>', '<img src=x onerror=alert(1)>', '<a href="javascript:alert(1)">x</a>', '<div>', '</div>', '<!--', '-->', '<style>', 'javascript:alert(1)', '<svg onload=alert(1)>', '<input>', '<button id=x>') },
  { weight: 3, arbitrary: fc.constantFrom('|', ' | ', '---', '|:-:|', '- [ ] ', '- [x] ', '"', "'", '&', '&amp;', '&#60;', '\\', '\\<', '=') },
  { weight: 2, arbitrary: fc.constantFrom('$', '$$', '$x^2$', '$$\\sum_{k=1}^n k$$', '\\frac{', '$\\begin{matrix}a&b\\end{matrix}$', '$5 and $10', '$<script>$') },
  { weight: 5, arbitrary: fc.constantFrom('\n', '\n\n', '  \n', '    ', '\t', ' ', '\r\n') },
  { weight: 4, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }) },
)
const markdown = fc.array(fragment, { maxLength: 40 }).map((parts) => parts.join(''))

/** A fresh stream's blocks for the whole text, as a finished message shows them. */
function finished(source: string): string[] {
  return new BlockStream().update(source, false)
}

describe('the markdown renderer, on any model output', () => {
  it('renders any text without throwing, in its own elements and attributes only', () => {
    fc.assert(
      fc.property(markdown, (source) => {
        assertOwnMarkup(marked.parse(source, { async: false }))
        for (const block of finished(source)) assertOwnMarkup(block)
      }),
      runs(400),
    )
  })

  it('ends a reply rendered as it streamed the way the finished reply renders', () => {
    const streamed = markdown.chain((source) => fc.tuple(fc.constant(source), fc.uniqueArray(fc.nat({ max: source.length }), { maxLength: 6 })))
    fc.assert(
      fc.property(streamed, ([source, cuts]) => {
        const stream = new BlockStream()
        for (const cut of cuts.sort((a, b) => a - b)) {
          for (const block of stream.update(source.slice(0, cut), true)) assertOwnMarkup(block)
        }
        assert.deepEqual(stream.update(source, false), finished(source))
      }),
      runs(300),
    )
  })
})
