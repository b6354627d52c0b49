// Tool calling in the model's own format. A chat template that takes `tools` also says how the
// model writes a call: Hermes' and Qwen2.5's `<tool_call>{"name", "arguments"}</tool_call>`, or
// Llama 3.x's bare `{"name", "parameters"}` reply. This reads the format from the template, keeps
// calls out of the streamed text, parses them from the reply, and gives the grammar that forces
// one (tool_choice "required" or a named function) for constrained decoding.

import { randomBytes } from 'node:crypto'
import { AppError } from '../../src-shared/errors.ts'
import type { ToolCall, ToolChoice, ToolDefinition } from '../../src-shared/types.ts'

export type ToolFormat = 'hermes' | 'llama3-json'

const OPEN = '<tool_call>'
const CLOSE = '</tool_call>'
const PYTHON_TAG = '<|python_tag|>'

/** The format a chat template asks calls in; null when it renders no tools. */
export function toolFormatOf(template: string | null): ToolFormat | null {
  if (template === null || !/\btools\b/.test(template)) return null
  if (template.includes(OPEN)) return 'hermes'
  if (template.includes(PYTHON_TAG) || template.includes('"parameters"')) return 'llama3-json'
  return null
}

/** The key a format gives a call's arguments under. */
const argumentsKey = (format: ToolFormat): string => (format === 'hermes' ? 'arguments' : 'parameters')

/**
 * For a forced call: the text the reply starts with (the prompt carries it, so the model writes
 * only the call's JSON) and the JSON Schema that JSON must match: one of the tools allowed.
 */
export function forcedCall(tools: readonly ToolDefinition[], choice: ToolChoice, format: ToolFormat): { prefix: string; schema: Record<string, unknown> } {
  const allowed = typeof choice === 'object' ? tools.filter((t) => t.name === choice.name) : tools
  if (allowed.length === 0) throw new AppError('BAD_REQUEST', `tool_choice names ${(choice as { name: string }).name}, which is not among the tools`)
  const key = argumentsKey(format)
  const one = (t: ToolDefinition): Record<string, unknown> => ({
    type: 'object',
    properties: { name: { const: t.name }, [key]: t.parameters ?? { type: 'object' } },
    required: ['name', key],
    additionalProperties: false,
  })
  return { prefix: format === 'hermes' ? `${OPEN}\n` : '', schema: allowed.length === 1 ? one(allowed[0]!) : { anyOf: allowed.map(one) } }
}

/**
 * The calls in a reply and its text before them (a prefix of `text`). Hermes: every `<tool_call>`
 * block (the last may lack its closing tag, cut by a stop); Llama 3: a reply that is one JSON call.
 * Text that only looks like a call (no JSON object naming one of the tools) stays text.
 */
export function parseToolCalls(text: string, format: ToolFormat, tools: readonly ToolDefinition[]): { content: string; calls: ToolCall[] } {
  const known = new Set(tools.map((t) => t.name))
  const key = argumentsKey(format)
  const call = (json: string): ToolCall | null => {
    let value: unknown
    try {
      value = JSON.parse(json)
    } catch {
      return null
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
    const { name } = value as Record<string, unknown>
    const args = (value as Record<string, unknown>)[key] ?? (value as Record<string, unknown>).arguments ?? {}
    if (typeof name !== 'string' || !known.has(name) || typeof args !== 'object' || args === null) return null
    return { id: `call_${randomBytes(12).toString('hex')}`, name, arguments: JSON.stringify(args) }
  }
  if (format === 'llama3-json') {
    const body = text.trim().replace(PYTHON_TAG, '').trim()
    const found = body.startsWith('{') ? call(body) : null
    return found ? { content: '', calls: [found] } : { content: text, calls: [] }
  }
  const calls: ToolCall[] = []
  const first = text.indexOf(OPEN)
  if (first < 0) return { content: text, calls }
  for (let at = first; at >= 0; at = text.indexOf(OPEN, at + OPEN.length)) {
    const end = text.indexOf(CLOSE, at)
    const found = call(text.slice(at + OPEN.length, end < 0 ? undefined : end).trim())
    if (found) calls.push(found)
  }
  return calls.length > 0 ? { content: text.slice(0, first), calls } : { content: text, calls }
}

/**
 * Streams a reply's text but holds back what may be a call: from a `<tool_call>` (or a prefix of
 * it at the end so far) on, or, for Llama 3, a reply that begins as JSON. `end` gives what was held
 * when it turned out not to be a call.
 */
export class ToolTextFilter {
  #sent = 0
  #text = ''
  #holding = false

  constructor(
    private readonly format: ToolFormat,
    private readonly emit: (text: string) => void,
  ) {}

  push(piece: string): void {
    this.#text += piece
    if (this.#holding) return
    if (this.format === 'llama3-json') {
      const start = this.#text.trimStart()
      if (start === '') return
      if (start.startsWith('{') || PYTHON_TAG.startsWith(start.slice(0, PYTHON_TAG.length)) || start.startsWith(PYTHON_TAG)) {
        this.#holding = start.startsWith('{') || start.startsWith(PYTHON_TAG)
        return
      }
      this.#release(this.#text.length)
      return
    }
    const open = this.#text.indexOf(OPEN, this.#sent)
    if (open >= 0) {
      this.#release(open)
      this.#holding = true
      return
    }
    // Up to a possible start of the tag at the end.
    let safe = this.#text.length
    for (let k = Math.min(OPEN.length - 1, this.#text.length - this.#sent); k > 0; k--) {
      if (OPEN.startsWith(this.#text.slice(this.#text.length - k))) {
        safe = this.#text.length - k
        break
      }
    }
    this.#release(safe)
  }

  /** The reply is complete: `content` (a prefix of its text: all of it, or what precedes its calls) goes out as far as it was held. */
  end(content: string): void {
    if (content.length > this.#sent) this.emit(content.slice(this.#sent))
  }

  #release(upTo: number): void {
    if (upTo > this.#sent) {
      this.emit(this.#text.slice(this.#sent, upTo))
      this.#sent = upTo
    }
  }
}
