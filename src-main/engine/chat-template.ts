// A model's Jinja chat template, rendered as transformers' apply_chat_template does.
//
// The template sees messages, add_generation_prompt, the special token strings (bos_token, ...),
// strftime_now (Llama 3's date line; the clock is an option so tests are exact) and
// raise_exception. A template that refuses a system message (Gemma's, Mistral's) gets it folded
// into the first user turn, as their model cards advise.

import { Environment, Interpreter, Template } from '@huggingface/jinja'
import { AppError } from '../../src-shared/errors.ts'
import type { PromptMessage, ToolDefinition } from '../../src-shared/types.ts'

export interface RenderOptions {
  /** Append the assistant header so the model writes the reply. */
  addGenerationPrompt: boolean
  /** The clock templates see through strftime_now; default now. */
  now?: Date
  /** Functions the model may call, as the template's `tools` (absent: the template renders none). */
  tools?: readonly ToolDefinition[]
}

/** Special token strings from tokenizer_config.json, as the template refers to them. */
export interface TemplateTokens {
  bos_token: string
  eos_token: string
  pad_token: string
  unk_token: string
}

export interface ChatTemplate {
  render(messages: readonly PromptMessage[], opts: RenderOptions): string
}

/** tokenizer_config.json's chat_template: a string, or a list of {name, template} ('default' wins). */
export function pickTemplate(value: unknown): string | null {
  if (typeof value === 'string') return value
  if (!Array.isArray(value)) return null
  const named = value.filter(
    (t): t is { name: string; template: string } =>
      typeof t?.name === 'string' && typeof t?.template === 'string',
  )
  return (named.find((t) => t.name === 'default') ?? named[0])?.template ?? null
}

export function compileChatTemplate(source: string, tokens: TemplateTokens): ChatTemplate {
  let template: Template
  try {
    template = new Template(source)
  } catch (err) {
    throw new AppError('MODEL_UNSUPPORTED', `The model's chat template cannot be parsed: ${errorText(err)}`)
  }
  const renderOnce = (messages: readonly PromptMessage[], opts: RenderOptions): string => {
    const now = opts.now ?? new Date()
    // Template#render declares its own strftime_now and raise_exception and refuses redeclaring
    // them, so the environment is built here with the same globals.
    const env = new Environment()
    const context: Record<string, unknown> = {
      true: true,
      false: false,
      none: null,
      True: true,
      False: false,
      None: null,
      range,
      ...tokens,
      messages: messages.map(templateMessage),
      ...(opts.tools?.length ? { tools: opts.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description ?? '', parameters: t.parameters ?? { type: 'object', properties: {} } } })) } : {}),
      add_generation_prompt: opts.addGenerationPrompt,
      strftime_now: (format: string) => strftime(now, format),
      raise_exception: (message: string) => {
        throw new TemplateRefusal(message)
      },
    }
    for (const [name, value] of Object.entries(context)) env.set(name, value)
    const result = new Interpreter(env).run(template.parsed)
    return String(result.value)
  }
  return {
    render(messages, opts) {
      try {
        return renderOnce(messages, opts)
      } catch (err) {
        const folded = err instanceof TemplateRefusal ? foldSystemPrompt(messages) : null
        if (folded === null) throw templateError(err)
        try {
          return renderOnce(folded, opts)
        } catch (retryErr) {
          throw templateError(retryErr)
        }
      }
    },
  }
}

const PROBE_REPLY = 'Hearth probe reply'

/**
 * The token that closes an assistant turn: the first special token after the assistant's text in
 * a rendered probe conversation (<|im_end|>, <|eot_id|>, <|end|>, </s>, <end_of_turn>, ...).
 */
export function findEndOfTurn(
  template: ChatTemplate,
  encode: (text: string) => number[],
  isSpecial: (id: number) => boolean,
): number | null {
  let text: string
  try {
    text = template.render(
      [
        { role: 'user', content: 'Hearth probe question' },
        { role: 'assistant', content: PROBE_REPLY },
      ],
      { addGenerationPrompt: false },
    )
  } catch {
    return null
  }
  const at = text.indexOf(PROBE_REPLY)
  if (at < 0) return null
  return encode(text.slice(at + PROBE_REPLY.length)).find(isSpecial) ?? null
}

class TemplateRefusal extends Error {}

function templateError(err: unknown): AppError {
  if (err instanceof TemplateRefusal) {
    return new AppError('BAD_REQUEST', `The model's chat template refused this conversation: ${err.message}`)
  }
  return new AppError('MODEL_UNSUPPORTED', `The model's chat template failed to render: ${errorText(err)}`)
}

function foldSystemPrompt(messages: readonly PromptMessage[]): PromptMessage[] | null {
  const system = messages.filter((m) => m.role === 'system')
  const rest = messages.filter((m) => m.role !== 'system')
  const firstUser = rest.findIndex((m) => m.role === 'user')
  if (system.length === 0 || firstUser < 0) return null
  const prefix = system.map((m) => m.content).join('\n\n')
  return rest.map((m, i) => (i === firstUser ? { role: 'user', content: `${prefix}\n\n${m.content}` } : m))
}

const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
]
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']

/** Python's strftime in the C locale, for the directives chat templates use. */
export function strftime(date: Date, format: string): string {
  const pad = (n: number): string => String(n).padStart(2, '0')
  const month = MONTHS[date.getMonth()] as string
  const day = DAYS[date.getDay()] as string
  const fields: Record<string, string> = {
    Y: String(date.getFullYear()),
    m: pad(date.getMonth() + 1),
    d: pad(date.getDate()),
    b: month.slice(0, 3),
    B: month,
    a: day.slice(0, 3),
    A: day,
    H: pad(date.getHours()),
    M: pad(date.getMinutes()),
    S: pad(date.getSeconds()),
    '%': '%',
  }
  return format.replace(/%([YmdbBaAHMS%])/g, (_, f: string) => fields[f] as string)
}

/** Python's range(stop) / range(start, stop[, step]). */
function range(start: number, stop?: number, step = 1): number[] {
  const [from, to] = stop === undefined ? [0, start] : [start, stop]
  if (step === 0) throw new Error('range() step must not be zero')
  const out: number[] = []
  for (let i = from; step > 0 ? i < to : i > to; i += step) out.push(i)
  return out
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * A message as Hugging Face templates read it: an assistant's calls as `tool_calls` of
 * {type, function: {name, arguments}} with the arguments an object (templates write them with
 * `tojson`), a tool's result with its `tool_call_id`.
 */
function templateMessage(m: PromptMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: m.content }
  if (m.toolCalls?.length) {
    out.tool_calls = m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: parseArguments(c.arguments) } }))
  }
  if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId
  return out
}

function parseArguments(json: string): unknown {
  try {
    return JSON.parse(json) as unknown
  } catch {
    return json
  }
}
