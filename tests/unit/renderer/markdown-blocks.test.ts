// Block-by-block markdown: the blocks together render exactly as the whole reply did, and finished blocks render once.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Token } from 'marked'
import { BlockStream, renderBlock } from '../../../src-renderer/lib/markdown-blocks.ts'
import { marked } from '../../../src-renderer/lib/markdown-html.ts'

const whole = (source: string): string => marked.parse(source, { async: false })

const TRICKY: Record<string, string> = {
  lists: '- a\n- b\n  - nested\n\n  more of b\n\n1. one\n2. two\n\n1. a\n\n1.\n\n* star\n+ plus\n- [ ] task\n- [x] done',
  'a list that a later item joins': '1. a\n\n1\n\n1. b\n\n2. c',
  tables: 'a | b\n--- | ---:\n1 | 2\nno pipes\n\nText\n| x | y |\n|:-:|---|\n| 1 | 2 |\n\n| not | a table |\n| - |',
  'fenced code': 'Intro:\n```js\nconst a = 1 // <b>\n```\nAfter.\n\n~~~~py\ndef f():\n    return 1\n~~~~\n\n```\n``` not closed\n````\n\n```rust\nfn main() {}',
  'setext headings': 'Title\n===\n\nTwo\nlines\n---\n\nNot a heading\n\n---\n\nUnder a list?\n- a\n---',
  'nested quotes': '> a\n> > b\n> > > c\nlazy\n\n> ```\n> code\n\n> - item\n>\n>   para',
  'indented code': 'Para\n    not code\n\n    code\n\n    more code\n\nafter',
  'html as text': '<div>\n*hi*\n</div>\n\n<!-- open\n\nstill comment -->\n\n<pre>\nx\n\ny</pre>',
  'reference links': 'See [docs][d] and [Other].\n\nMiddle.\n\nMore.\n\n[d]: https://d.example "D"\n[other]: https://o.example\n[d]: https://ignored.example',
  'a definition title that closes later': '[a]: /u "x\n\nfoo\n\nbar\n\nbaz"\n\nsee [a]',
  'line endings and hard breaks': 'a\r\nb  \r\nc\\\n\r\n\r\n# h #\r\n',
  'a paragraph a list item splits': 'Setext\n2. two\n  - nested\n\nend',
}

/** A BlockStream whose renders are recorded, as [raw, highlight]. */
function recording(): { stream: BlockStream; renders: [string, boolean][] } {
  const renders: [string, boolean][] = []
  const render = (token: Token, highlight: boolean): string => {
    renders.push([token.raw, highlight])
    return renderBlock(token, highlight)
  }
  return { stream: new BlockStream(render), renders }
}

/** A small seeded generator, so a failure names its case. */
function random(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
}

describe('BlockStream#update', () => {
  for (const [name, source] of Object.entries(TRICKY)) {
    it(`renders ${name} as the whole document does, at every prefix`, () => {
      assert.equal(new BlockStream().update(source, false).join(''), whole(source))
      const stream = new BlockStream()
      for (let end = 0; end <= source.length; end++) {
        const prefix = source.slice(0, end)
        assert.equal(stream.update(prefix, false).join(''), whole(prefix), JSON.stringify(prefix))
      }
    })
  }

  it('matches the whole document for random documents streamed in random pieces', () => {
    const lines = [
      'Hello.', 'Some *em* and **strong**', '- item', '  - nested', '1. one', '2. two', '1', '1.', '  -', '> quote', '> > deeper',
      'lazy', '', '', '', '# Heading', 'Setext', '===', '---', '| a | b |', '|---|---|', 'a | b', '```', '```js', 'const x = 1',
      '~~~', '    indented', '<div>', '<!-- c', '-->', '[x]: https://x.example', '[z]: /u "open', 'close"', 'see [x] and [z][]',
      '\tTabbed', '- [ ] task', 'text  ', '[link](https://a.b)',
    ]
    const next = random(7)
    for (let doc = 0; doc < 150; doc++) {
      const source = Array.from({ length: 3 + Math.floor(next() * 12) }, () => lines[Math.floor(next() * lines.length)]).join('\n')
      const stream = new BlockStream()
      for (let end = 0; end < source.length; end = Math.min(source.length, end + 1 + Math.floor(next() * 4))) {
        const prefix = source.slice(0, end)
        assert.equal(stream.update(prefix, false).join(''), whole(prefix), `document ${doc}: ${JSON.stringify(prefix)}`)
      }
      assert.equal(stream.update(source, false).join(''), whole(source), `document ${doc}: ${JSON.stringify(source)}`)
    }
  })

  it('keeps a growing code fence plain until its closing line ends, then highlights it', () => {
    const stream = new BlockStream()
    const open = stream.update('Look:\n\n```js\nconst a = 1\n```', true)
    assert.match(open.at(-1)!, /const a = 1/)
    assert.doesNotMatch(open.at(-1)!, /hljs-keyword/)
    assert.match(stream.update('Look:\n\n```js\nconst a = 1\n```\n', true).at(-1)!, /<span class="hljs-keyword">const<\/span>/)
    assert.equal(new BlockStream().update('```js\nconst a = 1', false).join(''), whole('```js\nconst a = 1'))
  })

  it('renders each finished block once, however many frames follow', () => {
    const parts = ['lists', 'tables', 'setext headings', 'nested quotes', 'indented code', 'html as text']
    const source = parts.map((name) => `# ${name}\n\n${TRICKY[name]}\n\n\`\`\`ts\nconst name = '${name}'\n\`\`\``).join('\n\n')
    const { stream, renders } = recording()
    for (let end = 5; end < source.length + 5; end += 5) stream.update(source.slice(0, end), true)
    const blocks = marked.lexer(source).filter((token) => token.type !== 'space')
    // A block whose text begins another block's is also rendered while that one grows; a code
    // block whose closing line has no newline yet is rendered plain first.
    const distinct = blocks.slice(0, -2).filter((block) => blocks.every((other) => other === block || !other.raw.startsWith(block.raw)))
    assert.ok(distinct.length > 20, `only ${distinct.length} blocks to check`)
    for (const block of distinct) {
      assert.equal(renders.filter(([raw, highlight]) => raw === block.raw && highlight).length, 1, JSON.stringify(block.raw))
    }
  })

  it('renders only the new blocks when more text arrives', () => {
    const source = `${TRICKY.lists}\n\n${TRICKY['fenced code']}\n\`\`\`\n\n`
    const { stream, renders } = recording()
    const before = stream.update(source, true)
    renders.length = 0
    const more = 'A new paragraph.\n\n- and a list'
    let after: string[] = []
    for (let end = 1; end <= more.length; end++) after = stream.update(source + more.slice(0, end), true)
    assert.deepEqual(after.slice(0, before.length), before)
    assert.ok(renders.length <= more.length, `${renders.length} renders for ${more.length} frames`)
    for (const [raw] of renders) assert.ok(more.includes(raw.trim()), `rendered ${JSON.stringify(raw)} again`)
  })

  it('renders a finished block again when a definition it cites arrives', () => {
    const source = 'See [docs].\n\nOne.\n\nTwo.\n\n'
    const stream = new BlockStream()
    stream.update(source, true)
    const [cited] = stream.update(`${source}[docs]: https://docs.example`, true)
    assert.equal(cited, '<p>See <a href="https://docs.example">docs</a>.</p>\n')
  })

  it('starts over when the text is not a continuation of the last', () => {
    const stream = new BlockStream()
    stream.update('# One\n\nfirst\n\nsecond\n\nthird', true)
    const edited = '# Two\n\nfirst\n\nsecond\n\nthird'
    assert.equal(stream.update(edited, false).join(''), whole(edited))
  })
})
