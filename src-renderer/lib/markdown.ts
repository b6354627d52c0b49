// Model output to safe HTML, block by block: markdown-blocks renders each block, DOMPurify sanitises it.
// Model output is untrusted. Raw HTML in it is shown as text, never parsed; images become links
// (no remote content); DOMPurify then drops anything a renderer bug could still let through.

import DOMPurify from 'dompurify'
import { BlockStream, renderBlock } from './markdown-blocks.ts'

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

const streams = new Map<string, BlockStream>()
const CACHE_LIMIT = 2000

/**
 * A message's markdown as sanitised HTML, one string per top-level block, cached under a stable key
 * (the message id): a finished block is rendered once, however often the message re-renders or grows.
 */
export function renderBlocks(key: string, source: string, streaming: boolean): string[] {
  let stream = streams.get(key)
  if (!stream) {
    if (streams.size >= CACHE_LIMIT) streams.clear()
    stream = new BlockStream((token, highlight) => DOMPurify.sanitize(renderBlock(token, highlight), PURIFY))
    streams.set(key, stream)
  }
  return stream.update(source, streaming)
}
