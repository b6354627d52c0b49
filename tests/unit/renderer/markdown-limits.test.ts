// Hostile model output: every reply renders, a bad block falls back to its text, and marked's work is bounded by structure.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Lexer, Tokenizer, type Token } from 'marked'
import { BlockStream, lexBlocks, renderBlock, segmentsOf, type LexBlocks } from '../../../src-renderer/lib/markdown-blocks.ts'
import { marked, MAX_HIGHLIGHT } from '../../../src-renderer/lib/markdown-html.ts'
import {
  escapeHtml,
  MAX_INLINE_DELIMITERS,
  MAX_LIST,
  MAX_NESTING,
  MAX_QUOTE,
  MAX_SETEXT_LINES,
} from '../../../src-renderer/lib/markdown-limits.ts'

const whole = (source: string): string => marked.parse(source, { async: false })
const count = (html: string, tag: string): number => html.split(`<${tag}`).length - 1

/** Replies that overflowed marked's stack or took seconds, each about 6–100 KB. */
const HOSTILE: Record<string, string> = {
  'lists in quotes': '- > '.repeat(1500),
  'quotes': '> '.repeat(5000) + 'a',
  'lists': '- '.repeat(5000) + 'a',
  'ordered lists': '1. '.repeat(3000) + 'a',
  'indented lists': Array.from({ length: 300 }, (_, i) => `${'  '.repeat(i)}- a`).join('\n'),
  'emphasis': '*a'.repeat(50000),
  'underscores': '_a'.repeat(20000),
  'mixed delimiters': '**_a'.repeat(8000),
  'nested emphasis': '*a '.repeat(3000) + ' a*'.repeat(3000),
  'brackets': '[a](b)'.repeat(5000),
  'a link with underscores': `http://a${'_'.repeat(30000)}`,
  'a list item of lazy lines': `- a\n${'b\n'.repeat(16000)}`,
  'a quote of lazy list items': '> - a\nb\n'.repeat(4000),
  'quotes in lists in quotes, lazily': '> - > a\nb\n'.repeat(3000),
  "a definition's run of blanks": `[a]:${' \t'.repeat(20000)}`,
}

interface Work {
  /** Text handed to marked's list and quote rules where they matched: they split, slice and join it. */
  containerText: number
  /** The longest list or quote they made. */
  longestContainer: number
  deepestNesting: number
  /** The most delimiters in one inline run handed to marked: each may scan the run for its closer. */
  mostDelimiters: number
}

/** What marked was handed while `source` rendered. */
function workOf(source: string): Work {
  const work: Work = { containerText: 0, longestContainer: 0, deepestNesting: 0, mostDelimiters: 0 }
  let depth = 0
  const { list, blockquote } = Tokenizer.prototype
  const { inlineTokens } = Lexer.prototype
  const counted = <T extends Token | undefined>(rule: (this: Tokenizer, src: string) => T) =>
    function (this: Tokenizer, src: string): T {
      work.deepestNesting = Math.max(work.deepestNesting, ++depth)
      try {
        const token = rule.call(this, src)
        if (token) {
          work.containerText += src.length
          work.longestContainer = Math.max(work.longestContainer, token.raw.length)
        }
        return token
      } finally {
        depth--
      }
    }
  Tokenizer.prototype.list = counted(list)
  Tokenizer.prototype.blockquote = counted(blockquote)
  Lexer.prototype.inlineTokens = function (this: Lexer, src: string, tokens?: Token[]): Token[] {
    work.mostDelimiters = Math.max(work.mostDelimiters, src.match(/[*_~`[\]<]/g)?.length ?? 0)
    return inlineTokens.call(this, src, tokens)
  }
  try {
    new BlockStream().update(source, false)
  } finally {
    Object.assign(Tokenizer.prototype, { list, blockquote })
    Lexer.prototype.inlineTokens = inlineTokens
  }
  return work
}

/** The longest list or quote part: a cut, the cut's window and the line it ends in. */
const LONGEST_PART = MAX_LIST + 2048 + 100

describe('BlockStream on hostile replies', () => {
  for (const [name, source] of Object.entries(HOSTILE)) {
    it(`renders ${name} between two ordinary blocks, which still render as markdown`, () => {
      const blocks = new BlockStream().update(`# Before\n\n${source}\n\nAfter **this**.`, false)
      assert.equal(blocks[0], '<h1>Before</h1>\n')
      assert.equal(blocks.at(-1), '<p>After <strong>this</strong>.</p>\n')
      assert.ok(blocks.length >= 3)
    })

    it(`hands marked bounded work for ${name}`, () => {
      const work = workOf(source)
      assert.ok(work.deepestNesting <= MAX_NESTING, `nested ${work.deepestNesting} deep`)
      assert.ok(work.longestContainer <= LONGEST_PART, `${work.longestContainer} characters in one list or quote`)
      assert.ok(work.mostDelimiters <= MAX_INLINE_DELIMITERS, `${work.mostDelimiters} delimiters in one inline run`)
    })
  }

  it('renders each hostile reply as the whole document does, streamed in pieces', () => {
    for (const [name, source] of Object.entries(HOSTILE)) {
      const stream = new BlockStream()
      const step = Math.ceil(source.length / 40)
      for (let end = step; end < source.length; end += step) stream.update(source.slice(0, end), true)
      assert.equal(stream.update(source, false).join(''), whole(source), name)
    }
  })
})

describe('Nesting', () => {
  it(`stops at ${MAX_NESTING} quotes and lists, the rest being text`, () => {
    const html = whole('- > '.repeat(1500))
    assert.equal(count(html, 'ul') + count(html, 'blockquote'), MAX_NESTING)
    assert.match(html, /<p>(- &gt; ){10}/)
    const quotes = whole(`${'> '.repeat(MAX_NESTING + 1)}a`)
    assert.equal(count(quotes, 'blockquote'), MAX_NESTING)
    assert.match(quotes, /<p>&gt; a<\/p>/)
  })

  it(`renders ${MAX_NESTING} levels as markdown`, () => {
    const html = whole(`${'> '.repeat(MAX_NESTING)}*a*`)
    assert.equal(count(html, 'blockquote'), MAX_NESTING)
    assert.match(html, /<p><em>a<\/em><\/p>/)
  })
})

describe('Inline runs', () => {
  it(`keep their markup up to ${MAX_INLINE_DELIMITERS} delimiters`, () => {
    const source = Array(MAX_INLINE_DELIMITERS / 2).fill('*a*').join(' ')
    assert.equal(whole(source), `<p>${Array(MAX_INLINE_DELIMITERS / 2).fill('<em>a</em>').join(' ')}</p>\n`)
  })

  it('with one delimiter more are escaped text, their line breaks kept', () => {
    const run = `${Array(MAX_INLINE_DELIMITERS / 2).fill('*a*').join(' ')}\n<b>\``
    assert.equal(whole(run), `<p>${escapeHtml(run).replace('\n', '<br>')}</p>\n`)
  })

  it('fall back one at a time: a cell or item of their own does not unformat its neighbours', () => {
    const heavy = '*a'.repeat(MAX_INLINE_DELIMITERS + 1)
    const html = whole(`| *x* | ${heavy} |\n|---|---|\n\n- **y**\n- ${heavy}`)
    assert.match(html, /<th><em>x<\/em><\/th>/)
    assert.match(html, /<li><strong>y<\/strong><\/li>/)
    assert.ok(html.includes(`<th>${heavy}</th>`) && html.includes(`<li>${heavy}</li>`))
  })
})

describe('Raw HTML', () => {
  it('stays text after an inline <pre>, <code>, <kbd> or <script>, which marked would pass on as HTML', () => {
    for (const tag of ['pre', 'code', 'kbd', 'script']) {
      const html = whole(`see <${tag}> then <a/href="javascript:alert(1)">x</a>`)
      assert.equal(html, `<p>see &lt;${tag}&gt; then &lt;a/href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;</p>\n`)
    }
  })
})

describe('Long containers', () => {
  it(`cut a list longer than ${MAX_LIST} characters before an item, keeping every item and its number`, () => {
    const items = Array.from({ length: 3000 }, (_, i) => `${i + 1}. item`)
    const html = whole(items.join('\n'))
    const lists = html.match(/<ol(?: start="(\d+)")?>/g) ?? []
    assert.ok(lists.length >= 2, `${lists.length} lists`)
    assert.equal(count(html, 'li'), items.length)
    const second = Number(/<ol start="(\d+)">/.exec(html)![1])
    const firstPart = items.slice(0, second - 1).join('\n').length
    assert.ok(firstPart >= MAX_LIST && firstPart < MAX_LIST + 2048, `first part ${firstPart} characters`)
  })

  it(`cut a quote longer than ${MAX_QUOTE} characters into quotes that hold every line`, () => {
    const source = '> quoted line\n'.repeat(1000)
    const html = whole(source)
    assert.ok(count(html, 'blockquote') >= source.length / (MAX_QUOTE + 2048))
    assert.equal(count(html, 'br') + count(html, 'blockquote'), 1000)
  })

  it('hand marked text in proportion to the reply, however long its items and quotes are', () => {
    // Before the cuts, a quote's list was handed the rest of the quote again at each lazy line.
    for (const unit of ['> - a\nb\n', '> - > a\nb\n', '>> a\nb\n', '- a\n  b\nc\n']) {
      const medium = workOf(unit.repeat(Math.ceil((4 * MAX_QUOTE) / unit.length))).containerText
      const large = workOf(unit.repeat(Math.ceil((16 * MAX_QUOTE) / unit.length))).containerText
      assert.ok(large <= 6 * medium, `${JSON.stringify(unit)}: ${medium} then ${large}`)
    }
  })
})

describe('Setext headings', () => {
  it(`span up to ${MAX_SETEXT_LINES} lines; a longer one is a paragraph`, () => {
    assert.match(whole(`${'line\n'.repeat(MAX_SETEXT_LINES)}===`), /^<h1>/)
    assert.match(whole(`${'line\n'.repeat(MAX_SETEXT_LINES + 1)}===`), /^<p>line<br>/)
  })
})

describe('Code blocks', () => {
  it(`are highlighted up to ${MAX_HIGHLIGHT} characters and shown plain beyond`, () => {
    const line = 'const a = 1\n'
    const fits = line.repeat(Math.floor(MAX_HIGHLIGHT / line.length))
    assert.match(whole(`\`\`\`js\n${fits}\`\`\``), /hljs-keyword/)
    const html = whole(`\`\`\`js\n${fits}${line}\`\`\``)
    assert.doesNotMatch(html, /hljs-keyword/)
    assert.ok(html.includes(`<code class="hljs">${fits}${line.trimEnd()}</code>`))
  })
})

describe('A block marked fails on', () => {
  const reply = '# Before\n\nBOOM <img src=x onerror=alert(1)> *not em*\n\nAfter **this**.'

  it('is shown as its escaped text when lexing it throws, and the others still render', () => {
    const lex: LexBlocks = (text, links) => {
      if (text.includes('BOOM')) throw new RangeError('Maximum call stack size exceeded')
      return lexBlocks(text, links)
    }
    assert.deepEqual(new BlockStream(renderBlock, lex).update(reply, false), [
      '<h1>Before</h1>\n',
      '<p class="md-plain">BOOM &lt;img src=x onerror=alert(1)&gt; *not em*</p>\n',
      '<p>After <strong>this</strong>.</p>\n',
    ])
  })

  it('is shown as its escaped text when rendering it throws, and the others still render', () => {
    const render = (token: Token, highlight: boolean): string => {
      if (token.raw.includes('BOOM')) throw new RangeError('Maximum call stack size exceeded')
      return renderBlock(token, highlight)
    }
    const blocks = new BlockStream(render).update(reply, false)
    assert.equal(blocks[1], '<p class="md-plain">BOOM &lt;img src=x onerror=alert(1)&gt; *not em*</p>\n')
    assert.equal(blocks[2], '<p>After <strong>this</strong>.</p>\n')
  })
})

describe('segmentsOf', () => {
  it('joins thousands of one-line blocks into a few segments of at least the size asked', () => {
    const blocks = new BlockStream().update('---\n'.repeat(16000), false)
    assert.equal(blocks.length, 16000)
    const segments = segmentsOf(blocks, 2048)
    assert.equal(segments.join(''), blocks.join(''))
    assert.ok(segments.length <= blocks.join('').length / 2048 + 1, `${segments.length} segments`)
    assert.ok(segments.slice(0, -1).every((segment) => segment.length >= 2048))
  })

  it('keeps a block longer than the size whole, ending the segment it joins', () => {
    assert.deepEqual(segmentsOf(['<p>a</p>', `<p>${'b'.repeat(30)}</p>`, '<hr>'], 16), [`<p>a</p><p>${'b'.repeat(30)}</p>`, '<hr>'])
  })
})
