// Markdown to unsanitised HTML: marked for markdown, highlight.js for code, KaTeX for $math$ (as
// MathML, which the browser lays out itself: no inline styles, no fonts). No DOM here: node tests
// run it. Raw HTML in model output is shown as text, never parsed; images become links (no remote
// content). markdown.ts sanitises every result before it reaches the page.

import hljs from 'highlight.js/lib/core'
import bash from 'highlight.js/lib/languages/bash'
import c from 'highlight.js/lib/languages/c'
import cpp from 'highlight.js/lib/languages/cpp'
import css from 'highlight.js/lib/languages/css'
import diff from 'highlight.js/lib/languages/diff'
import go from 'highlight.js/lib/languages/go'
import java from 'highlight.js/lib/languages/java'
import javascript from 'highlight.js/lib/languages/javascript'
import json from 'highlight.js/lib/languages/json'
import python from 'highlight.js/lib/languages/python'
import rust from 'highlight.js/lib/languages/rust'
import sql from 'highlight.js/lib/languages/sql'
import typescript from 'highlight.js/lib/languages/typescript'
import xml from 'highlight.js/lib/languages/xml'
import yaml from 'highlight.js/lib/languages/yaml'
import { Marked, type Tokens } from 'marked'
import markedKatex from 'marked-katex-extension'
import { boundedLex, escapeHtml } from './markdown-limits.ts'

const languages = { bash, c, cpp, css, diff, go, java, javascript, json, python, rust, sql, typescript, xml, yaml }
for (const [name, language] of Object.entries(languages)) hljs.registerLanguage(name, language)
hljs.registerAliases(['sh', 'shell', 'zsh'], { languageName: 'bash' })
hljs.registerAliases(['js', 'jsx', 'mjs'], { languageName: 'javascript' })
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' })
hljs.registerAliases(['py'], { languageName: 'python' })
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' })
hljs.registerAliases(['yml'], { languageName: 'yaml' })
hljs.registerAliases(['rs'], { languageName: 'rust' })

/** The inline colour KaTeX gives a formula it could not parse. */
const KATEX_ERROR_STYLE = / style="color:#[0-9a-f]{6}"/gi

/** Code longer than this is shown plain: highlight.js takes up to ~2 µs a character on hostile code, once per block. */
export const MAX_HIGHLIGHT = 20_000

/** Only the first word of the info string names the language, and only letters we know. */
function languageOf(lang: string | undefined): string | null {
  const name = (lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? ''
  return name && hljs.getLanguage(name) ? name : null
}

/** A code block with its language label and copy button; `highlighted: false` shows the code as plain text. */
export function codeBlock({ text, lang }: Tokens.Code, highlighted: boolean): string {
  const language = languageOf(lang)
  const label = escapeHtml(language ?? (lang?.trim().split(/\s+/)[0] || 'text'))
  const code = language && highlighted && text.length <= MAX_HIGHLIGHT ? hljs.highlight(text, { language, ignoreIllegals: true }).value : escapeHtml(text)
  return (
    `<div class="code-block"><div class="code-head"><span class="code-lang">${label}</span>` +
    `<button type="button" class="copy-code" aria-label="Copy ${label} code">Copy</button></div>` +
    `<pre><code class="hljs">${code}</code></pre></div>`
  )
}

/** A block that marked could not render, as the text it was: escaped, its lines kept by `white-space: pre-wrap`. */
export function plainBlock(raw: string): string {
  return `<p class="md-plain">${escapeHtml(raw.replace(/^\n+/, '').trimEnd())}</p>\n`
}

export const marked = new Marked({
  gfm: true,
  breaks: true,
  hooks: {
    provideLexer() {
      return boundedLex(this.block)
    },
  },
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text)
    },
    image({ href, text }: Tokens.Image): string {
      return `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`
    },
    code(token: Tokens.Code): string {
      return codeBlock(token, true)
    },
    // A task list's box, shown not operable: a form control has no place in a reply.
    checkbox({ checked }: Tokens.Checkbox): string {
      return `<span class="task-box" role="checkbox" aria-checked="${checked}" aria-disabled="true" aria-label="${checked ? 'done' : 'not done'}"></span> `
    },
  },
})
// A formula KaTeX cannot parse is shown as its source (class katex-error), never thrown; KaTeX
// colours it with an inline style, which the page's CSP refuses, so the style is taken off here.
const katex = markedKatex({ throwOnError: false, output: 'mathml' })
marked.use({
  extensions: (katex.extensions ?? []).map((extension) => {
    const render = 'renderer' in extension ? extension.renderer : undefined
    if (!render) return extension
    return {
      ...extension,
      renderer(this: ThisParameterType<typeof render>, ...args: Parameters<typeof render>) {
        return String(render.apply(this, args)).replace(KATEX_ERROR_STYLE, '')
      },
    }
  }),
})
