// Model output to safe HTML: marked for markdown, highlight.js for code, DOMPurify last.
// Model output is untrusted. Raw HTML in it is shown as text, never parsed; images become links
// (no remote content); DOMPurify then drops anything a renderer bug could still let through.

import DOMPurify from 'dompurify'
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

const languages = { bash, c, cpp, css, diff, go, java, javascript, json, python, rust, sql, typescript, xml, yaml }
for (const [name, language] of Object.entries(languages)) hljs.registerLanguage(name, language)
hljs.registerAliases(['sh', 'shell', 'zsh'], { languageName: 'bash' })
hljs.registerAliases(['js', 'jsx', 'mjs'], { languageName: 'javascript' })
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' })
hljs.registerAliases(['py'], { languageName: 'python' })
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' })
hljs.registerAliases(['yml'], { languageName: 'yaml' })
hljs.registerAliases(['rs'], { languageName: 'rust' })

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

/** Only the first word of the info string names the language, and only letters we know. */
function languageOf(lang: string | undefined): string | null {
  const name = (lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? ''
  return name && hljs.getLanguage(name) ? name : null
}

function highlight(code: string, language: string | null): string {
  return language ? hljs.highlight(code, { language, ignoreIllegals: true }).value : escapeHtml(code)
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text)
    },
    image({ href, text }: Tokens.Image): string {
      return `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`
    },
    code({ text, lang }: Tokens.Code): string {
      const language = languageOf(lang)
      const label = escapeHtml(language ?? (lang?.trim().split(/\s+/)[0] || 'text'))
      return (
        `<div class="code-block"><div class="code-head"><span class="code-lang">${label}</span>` +
        `<button type="button" class="copy-code" aria-label="Copy ${label} code">Copy</button></div>` +
        `<pre><code class="hljs">${highlight(text, language)}</code></pre></div>`
      )
    },
  },
})

// Links open outside the app: Electron's window-open handler sends them to the system browser.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank')
    node.setAttribute('rel', 'noopener noreferrer')
  }
})

const PURIFY = {
  FORBID_TAGS: ['img', 'style', 'script', 'iframe', 'object', 'embed', 'form', 'input', 'svg', 'math', 'video', 'audio', 'source'],
  // Inline styles would break the CSP (style-src 'self'); ids could clobber the app's DOM.
  FORBID_ATTR: ['style', 'id', 'name', 'srcset'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
  ADD_ATTR: ['target'],
}

/** Markdown to HTML that is safe to insert: no scripts, handlers, styles or remote content. */
export function renderMarkdown(source: string): string {
  const html = marked.parse(source, { async: false })
  return DOMPurify.sanitize(html, PURIFY)
}

const cache = new Map<string, { source: string; html: string }>()
const CACHE_LIMIT = 2000

/** renderMarkdown keyed by a stable key (message id): re-renders of finished messages cost nothing. */
export function renderCached(key: string, source: string): string {
  const hit = cache.get(key)
  if (hit?.source === source) return hit.html
  const html = renderMarkdown(source)
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(key, { source, html })
  return html
}
