// What an attached file is and its text. The bytes decide first (a PDF or a Word file under the
// wrong name is still read as one), then the extension. Runs in the reader's process (extract-main.ts).

import path from 'node:path'
import { AppError } from '../../src-shared/errors.ts'
import type { DocumentKind } from '../../src-shared/types.ts'
import type { Extracted } from '../app/documents.ts'
import { decodeText, normaliseNewlines } from './decode-text.ts'
import { readPdf, type PageProgress } from './read-pdf.ts'

const SUPPORTED = 'Hearth reads text, Markdown, code, CSV/TSV, JSON, HTML, PDF and DOCX.'

const DOCX_TYPE = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'

const types = (mimeType: string, extensions: string): [string, string][] => extensions.split(' ').map((ext) => [ext, mimeType])

/** Source code by extension, each with its registered media type where it has one. */
const CODE_TYPES = new Map<string, string>([
  ...types('text/javascript', 'js mjs cjs jsx'),
  ...types('text/css', 'css'),
  ...types('application/xml', 'xml xsd xsl xslt'),
  ...types('application/yaml', 'yaml yml'),
  ...types('application/toml', 'toml'),
  ...types('application/sql', 'sql'),
  ...types(
    'text/plain',
    'ts tsx mts cts py pyi rs go c h cc cpp cxx hpp hh cs java kt kts swift rb php sh bash zsh fish ps1 bat cmd ' +
      'lua r dart scala hs ex exs erl clj pl pm zig jl nim m mm scss sass less svelte vue astro ini cfg conf properties ' +
      'gradle cmake proto graphql gql tf nix el lisp scm ml fs vb asm s make mk dockerfile',
  ),
])
/** Build files known by their whole name. */
const CODE_NAMES = new Set(['makefile', 'dockerfile', 'gemfile', 'rakefile', 'justfile', 'containerfile'])

const TEXT_KINDS: Record<string, { kind: DocumentKind; mimeType: string }> = {
  md: { kind: 'markdown', mimeType: 'text/markdown' },
  markdown: { kind: 'markdown', mimeType: 'text/markdown' },
  mdx: { kind: 'markdown', mimeType: 'text/markdown' },
  csv: { kind: 'csv', mimeType: 'text/csv' },
  tsv: { kind: 'tsv', mimeType: 'text/tab-separated-values' },
  tab: { kind: 'tsv', mimeType: 'text/tab-separated-values' },
}

const HTML_EXTENSIONS = new Set(['html', 'htm', 'xhtml'])

/** Reports progress: pages for a PDF, else (0, 1) as reading starts and (1, 1) when done. */
export async function readDocument(bytes: Buffer, name: string, onProgress: PageProgress): Promise<Extracted> {
  if (bytes.length === 0) throw empty(name)
  const ext = path.extname(name).slice(1).toLowerCase()
  if (isPdf(bytes)) {
    const { text, pages } = await readPdf(bytes, name, onProgress)
    return { kind: 'pdf', mimeType: 'application/pdf', text: normaliseNewlines(text), pages }
  }
  onProgress(0, 1)
  const read = isDocx(bytes, ext) ? { kind: 'docx' as const, mimeType: DOCX_TYPE, text: await readDocx(bytes, name) } : await readText(bytes, name, ext)
  const text = normaliseNewlines(read.text)
  if (text.trim() === '') throw empty(name)
  onProgress(1, 1)
  return { ...read, text, pages: null }
}

async function readText(bytes: Buffer, name: string, ext: string): Promise<Omit<Extracted, 'pages'>> {
  const text = decodeText(bytes)
  if (text === null) throw notText(name, ext)
  const code = CODE_TYPES.get(ext) ?? (CODE_NAMES.has(name.toLowerCase()) ? 'text/plain' : undefined)
  if (code !== undefined) return { kind: 'code', mimeType: code, text }
  const known = TEXT_KINDS[ext]
  if (known !== undefined) return { ...known, text }
  if (HTML_EXTENSIONS.has(ext) || looksLikeHtml(text)) return { kind: 'html', mimeType: 'text/html', text: await readHtml(text, name) }
  // JSON by name or by content; a .json file that does not parse is still text.
  if ((ext === 'json' || /^\s*[[{]/.test(text)) && parses(text)) return { kind: 'json', mimeType: 'application/json', text }
  return { kind: 'text', mimeType: 'text/plain', text }
}

/** pdf.js, like Acrobat, finds the header anywhere in the first KiB. */
function isPdf(bytes: Buffer): boolean {
  return bytes.subarray(0, 1024).includes('%PDF-')
}

/** A zip that is a Word document by name or by its main part; any other zip is binary. */
function isDocx(bytes: Buffer, ext: string): boolean {
  const zip = bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04
  return zip && (ext === 'docx' || bytes.includes('word/document.xml'))
}

async function readDocx(bytes: Buffer, name: string): Promise<string> {
  const { default: mammoth } = await import('mammoth')
  try {
    return (await mammoth.extractRawText({ buffer: bytes })).value
  } catch (err) {
    throw new AppError('DOCUMENT_INVALID', `${name} could not be read as a Word document: ${(err as Error).message}`)
  }
}

function looksLikeHtml(text: string): boolean {
  return /^\s*(<!--[^]*?-->\s*)*<(!doctype\s+html|html)[\s>]/i.test(text.slice(0, 4096))
}

async function readHtml(html: string, name: string): Promise<string> {
  const { convert } = await import('html-to-text')
  try {
    // Scripts and styles are dropped by default; link targets and image sources are noise to a model.
    return convert(html, {
      wordwrap: false,
      limits: { maxInputLength: html.length },
      selectors: [
        { selector: 'a', options: { ignoreHref: true } },
        { selector: 'img', format: 'skip' },
        ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
        { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
      ],
    })
  } catch (err) {
    throw new AppError('DOCUMENT_INVALID', `${name} could not be read as HTML: ${(err as Error).message}`)
  }
}

function parses(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

function empty(name: string): AppError {
  return new AppError('DOCUMENT_INVALID', `${name} is empty.`)
}

/** Said in the file's own terms when its name promised a format Hearth reads. */
function notText(name: string, ext: string): AppError {
  if (ext === 'pdf') return new AppError('DOCUMENT_INVALID', `${name} could not be read as a PDF: it has no PDF header.`)
  if (ext === 'docx') return new AppError('DOCUMENT_INVALID', `${name} could not be read as a Word document: it is not a .docx (zip) file.`)
  return new AppError('DOCUMENT_INVALID', `${name} looks like a binary file, not text: ${SUPPORTED}`)
}
