// Documents in the words the chat shows: file badges and facts, attach progress, the line saying
// how documents reach the model, sources, and the prefill's progress.

import type { BranchEntry, DocumentInfo, DocumentKind, DocumentPassage, DocumentProgress, PrefillProgress } from '../../src-shared/types.ts'
import { formatBytes, formatCount, formatRate } from './format.ts'

/** src-shared/types.ts's MAX_DOCUMENT_BYTES (the renderer imports only types from there; a unit test keeps them equal). */
export const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
/** src-shared/types.ts's MAX_DOCUMENTS_PER_MESSAGE. */
export const MAX_DOCUMENTS_PER_MESSAGE = 10
/** The Api's limit on a file name. */
export const MAX_FILE_NAME = 255

const KIND_LABELS: Record<DocumentKind, string> = {
  text: 'Text',
  markdown: 'Markdown',
  code: 'Source code',
  csv: 'CSV',
  tsv: 'TSV',
  json: 'JSON',
  html: 'HTML',
  pdf: 'PDF',
  docx: 'Word document',
}

export function kindLabel(kind: DocumentKind): string {
  return KIND_LABELS[kind]
}

/** The chip's badge: the file's extension ("PDF", "TS"), known before main has read the file. */
export function fileBadge(name: string): string {
  const dot = name.lastIndexOf('.')
  const extension = dot > 0 ? name.slice(dot + 1) : ''
  return /^[a-z0-9]{1,4}$/i.test(extension) ? extension.toUpperCase() : 'FILE'
}

/** "12 pages · 1.2 MB", or "4 KB" for a file without pages. */
export function documentFacts(info: Pick<DocumentInfo, 'bytes' | 'pages'>): string {
  const pages = info.pages === null ? '' : `${formatCount(info.pages)} ${info.pages === 1 ? 'page' : 'pages'} · `
  return `${pages}${formatBytes(info.bytes)}`
}

/** Why a file is refused before it is read; null when it may be attached. */
export function fileRefusal(file: { size: number }): string | null {
  if (file.size > MAX_DOCUMENT_BYTES) return `Too big to attach (${formatBytes(file.size)}): files can be at most ${formatBytes(MAX_DOCUMENT_BYTES)}.`
  return null
}

/** How far main has got with a file being attached: "Extracting 40%", "Indexing…"; null progress: not started there. */
export function attachStep(progress: DocumentProgress | null): string {
  if (progress === null) return 'Sending…'
  if (progress.phase === 'indexing') return 'Indexing…'
  const verb = progress.phase === 'reading' ? 'Reading' : 'Extracting'
  const fraction = attachFraction(progress)
  return fraction === null ? `${verb}…` : `${verb} ${Math.floor(fraction * 100)}%`
}

/** Done of a file being attached, from 0 to 1; null when not known (not started, or indexing). */
export function attachFraction(progress: DocumentProgress | null): number | null {
  if (progress === null || progress.phase === 'indexing' || progress.total <= 0) return null
  return Math.min(1, progress.done / progress.total)
}

/** A passage as a source chip names it: "report.pdf · passage 4" (chunks count from 1, as the prompt numbers them). */
export function passageLabel(passage: DocumentPassage): string {
  return `${passage.name} · passage ${passage.chunk + 1}`
}

export interface ModeLine {
  /** "Documents in the prompt: a.txt" or "Searching report.pdf for each question". */
  text: string
  /** Why, one line per decision, latest first. */
  reasons: string[]
}

/**
 * How the branch's documents reach the model, from what each user message settled when first
 * answered; null when no message has settled that yet (or none has documents).
 */
export function documentModeLine(branch: readonly BranchEntry[]): ModeLine | null {
  const whole: string[] = []
  const searched: string[] = []
  const reasons: string[] = []
  for (const { message } of branch) {
    const context = message.documentContext
    if (message.role !== 'user' || !context?.mode) continue
    const names = (message.documents ?? []).map((d) => d.name)
    ;(context.mode === 'full' ? whole : searched).push(...names)
    if (context.reason && !reasons.includes(context.reason)) reasons.unshift(context.reason)
  }
  if (whole.length === 0 && searched.length === 0) return null
  const parts = []
  if (whole.length > 0) parts.push(`Documents in the prompt: ${nameList(whole)}`)
  if (searched.length > 0) parts.push(`${parts.length > 0 ? 'searching' : 'Searching'} ${nameList(searched)} for each question`)
  return { text: parts.join(' · '), reasons }
}

/** "a.txt, b.pdf and 3 more", each name once. */
function nameList(names: readonly string[]): string {
  const unique = [...new Set(names)]
  const shown = unique.slice(0, 3).join(', ')
  return unique.length > 3 ? `${shown} and ${unique.length - 3} more` : shown
}

/** "Reading the prompt: 1,536 / 3,012 tokens · 410 tok/s · about 4 s left". */
export function prefillText(progress: PrefillProgress): string {
  const base = `Reading the prompt: ${formatCount(progress.done)} / ${formatCount(progress.total)} tokens`
  if (!(progress.tokensPerSecond > 0)) return base
  const seconds = Math.max(0, progress.total - progress.done) / progress.tokensPerSecond
  return `${base} · ${formatRate(progress.tokensPerSecond)} tok/s · about ${formatSeconds(seconds)} left`
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.ceil(seconds))} s`
  return `${Math.ceil(seconds / 60)} min`
}
