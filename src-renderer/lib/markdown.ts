// Model output to safe HTML, block by block: markdown-blocks renders each block, DOMPurify sanitises it.
// Model output is untrusted. Raw HTML in it is shown as text, never parsed; images become links
// (no remote content); DOMPurify then drops anything a renderer bug could still let through.

import DOMPurify from 'dompurify'
import { BlockStream, renderBlock, segmentsOf } from './markdown-blocks.ts'

// Links open outside the app: Electron's window-open handler sends them to the system browser.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank')
    node.setAttribute('rel', 'noopener noreferrer')
  }
})

const PURIFY = {
  // MathML stays (KaTeX's formulas); DOMPurify checks it as it checks HTML.
  FORBID_TAGS: ['img', 'style', 'script', 'iframe', 'object', 'embed', 'form', 'input', 'svg', 'video', 'audio', 'source', 'annotation-xml'],
  // Inline styles would break the CSP (style-src 'self'); ids could clobber the app's DOM.
  FORBID_ATTR: ['style', 'id', 'name', 'srcset'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
  ADD_ATTR: ['target', 'display'],
  // DOMPurify holds the value of every attribute not named here to ALLOWED_URI_REGEXP, which only
  // a link passes: a table column's alignment and MathML's layout attributes are words, not URLs.
  ADD_URI_SAFE_ATTR: [
    'align', 'display', 'encoding', 'mathvariant', 'stretchy', 'fence', 'separator', 'lspace', 'rspace', 'accent', 'accentunder',
    'columnalign', 'columnspacing', 'columnlines', 'rowspacing', 'rowlines', 'linethickness', 'scriptlevel', 'displaystyle',
    'width', 'height', 'depth', 'minsize', 'maxsize', 'movablelimits', 'largeop', 'symmetric', 'notation', 'voffset',
  ],
  // KaTeX's MathML: <semantics> shows its first child; <annotation> keeps the TeX, as text, unshown.
  ADD_TAGS: ['semantics', 'annotation'],
}

const sanitize = (html: string): string => DOMPurify.sanitize(html, PURIFY)

/** HTML characters per segment of a reply first shown finished: see segmentsOf. */
const SEGMENT = 2048

interface Rendered {
  stream: BlockStream
  /**
   * A reply first shown finished is sanitised and mounted in segments. One seen streaming keeps one
   * block per segment, sanitised as it is rendered, so the blocks already shown keep their DOM.
   */
  segmented: boolean
  /** The blocks last segmented and their segments, sanitised. */
  last?: { blocks: string[]; html: string[] }
}

const rendered = new Map<string, Rendered>()
const CACHE_LIMIT = 2000

/**
 * A message's markdown as sanitised HTML strings, cached under a stable key (the message id): a
 * finished block is rendered once, however often the message re-renders or grows.
 */
export function renderBlocks(key: string, source: string, streaming: boolean): string[] {
  let entry = rendered.get(key)
  if (!entry || (entry.segmented && streaming)) {
    if (rendered.size >= CACHE_LIMIT) rendered.clear()
    entry = streaming
      ? { stream: new BlockStream((token, highlight) => sanitize(renderBlock(token, highlight))), segmented: false }
      : { stream: new BlockStream(renderBlock), segmented: true }
    rendered.set(key, entry)
  }
  const blocks = entry.stream.update(source, streaming)
  if (!entry.segmented) return blocks
  if (entry.last?.blocks !== blocks) entry.last = { blocks, html: segmentsOf(blocks, SEGMENT).map(sanitize) }
  return entry.last.html
}
