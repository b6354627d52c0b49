// Import: recognises the file's format, checks and plans it one conversation at a time, then writes
// it staged (import-write.ts). Reading is a generator that pauses after each item, so the store
// runs it between turns of the event loop and a file of tens of megabytes holds nothing up.

import type Database from 'better-sqlite3'
import type { AppError } from '../../src-shared/errors.ts'
import type { HistoryImportProgress, ImportFormat, ImportResult } from '../../src-shared/types.ts'
import { isChatGptConversation, planChatGptConversation } from './import-chatgpt.ts'
import { checkHearthVersion, isHearthExport, planHearthConversation, planHearthDocuments, planHearthFolders, planHearthPresets } from './import-hearth.ts'
import { invalid, type ImportPlan, type PlannedConversation } from './import-plan.ts'
import { JsonCursor, JsonSyntaxError, parseSpan, type Span } from './json-items.ts'
import { writeImport, type ImportStores } from './import-write.ts'
import { TimeSlicer } from './time-slice.ts'

export interface ReadImport {
  format: ImportFormat
  plan: ImportPlan
}

export interface ImportInput {
  text: string
  /** Names the file in errors. */
  fileName: string
  now: number
  onProgress: (progress: Omit<HistoryImportProgress, 'fileName'>) => void
}

export async function importHistory(db: Database.Database, stores: ImportStores, input: ImportInput): Promise<ImportResult> {
  const slicer = new TimeSlicer()
  const { format, plan } = await readImport(input.text, input.fileName, input.now, slicer, (done, total) =>
    input.onProgress({ phase: 'reading', done, total }),
  )
  return writeImport(db, stores, format, plan, slicer, (done, total) => input.onProgress({ phase: 'writing', done, total }))
}

/** Conversations planned so far, of how many the file holds; null while the file is still being scanned. */
type Step = { done: number; total: number } | null

/** The whole file at once: for callers that need no turns of the event loop in between. */
export function planImport(text: string, fileName: string, now: number): ReadImport {
  const steps = readSteps(text, fileName, now)
  for (;;) {
    const step = steps.next()
    if (step.done) return step.value
  }
}

/** The file in slices of the slicer's budget, telling how many conversations were checked at each pause. */
async function readImport(
  text: string,
  fileName: string,
  now: number,
  slicer: TimeSlicer,
  onProgress: (done: number, total: number) => void,
): Promise<ReadImport> {
  const steps = readSteps(text, fileName, now)
  for (;;) {
    const step = steps.next()
    if (step.done) {
      const total = step.value.plan.conversations.length
      onProgress(total, total)
      return step.value
    }
    if (!slicer.spent) continue
    if (step.value !== null) onProgress(step.value.done, step.value.total)
    await slicer.turn()
  }
}

function* readSteps(text: string, fileName: string, now: number): Generator<Step, ReadImport> {
  try {
    return yield* readJson(text, fileName, now)
  } catch (err) {
    if (err instanceof JsonSyntaxError || err instanceof SyntaxError) throw invalid(fileName, `it is not valid JSON (${err.message})`)
    throw err
  }
}

function* readJson(text: string, fileName: string, now: number): Generator<Step, ReadImport> {
  const cursor = new JsonCursor(text)
  const root = cursor.peek()
  if (root === '[') {
    // ChatGPT's conversations.json: the conversations are the file.
    const items = yield* itemSpans(cursor)
    cursor.end()
    const conversations: PlannedConversation[] = []
    let skippedMessages = 0
    for (const [i, span] of items.entries()) {
      const raw = parseSpan(text, span)
      if (i === 0 && !isChatGptConversation(raw)) throw neither(fileName)
      const { conversation, skipped } = planChatGptConversation(raw, i, fileName, now)
      conversations.push(conversation)
      skippedMessages += skipped
      yield { done: i + 1, total: items.length }
    }
    return { format: 'chatgpt', plan: { conversations, skippedMessages, documents: new Map(), presets: [], folders: [] } }
  }
  if (root === '{') {
    // Hearth's export: `{ format, version, exportedAt, conversations: [...], documents: [...] }`, in any order.
    const header: Record<string, unknown> = {}
    let items: Span[] | null = null
    cursor.enter()
    for (let member = cursor.next(); member !== false; member = cursor.next()) {
      if (member.key === 'conversations' && cursor.peek() === '[') items = yield* itemSpans(cursor)
      else header[member.key ?? ''] = cursor.value()
    }
    cursor.end()
    if (!isHearthExport(header)) throw neither(fileName)
    checkHearthVersion(header, fileName)
    if (items === null) throw invalid(fileName, 'it has no "conversations" list')
    const documents = planHearthDocuments(header['documents'], fileName)
    const presets = planHearthPresets(header['presets'], fileName)
    const folders = planHearthFolders(header['folders'], fileName)
    const conversations: PlannedConversation[] = []
    for (const [i, span] of items.entries()) {
      conversations.push(planHearthConversation(parseSpan(text, span), i, fileName, documents))
      yield { done: i + 1, total: items.length }
    }
    return { format: 'hearth', plan: { conversations, skippedMessages: 0, documents, presets, folders } }
  }
  JSON.parse(text)
  throw neither(fileName)
}

/** Where each item of the array at the cursor lies; the cursor moves past the array. */
function* itemSpans(cursor: JsonCursor): Generator<Step, Span[]> {
  const spans: Span[] = []
  cursor.enter()
  while (cursor.next() !== false) {
    spans.push(cursor.skip())
    yield null
  }
  return spans
}

function neither(fileName: string): AppError {
  return invalid(fileName, "it is neither a Hearth export nor ChatGPT's conversations.json")
}
