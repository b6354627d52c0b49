// The body of POST /v1/chat/completions, checked and turned into what the engine takes.

import { z } from 'zod'
import { MAX_DOCUMENT_BYTES, type GenerationParams, type PromptMessage, type ResponseFormat, type ToolChoice, type ToolDefinition } from '../../src-shared/types.ts'
import { badRequest, type HttpError } from './http-error.ts'

/** A file sent as a content part, to be read as a document before the message goes to the model. */
export interface FilePart {
  name: string
  bytes: Buffer
}

/** A message with the files its content carried, in order; `content` is its text parts joined. */
export interface RequestMessage extends PromptMessage {
  files: FilePart[]
}

export interface CompletionRequest {
  model: string
  messages: RequestMessage[]
  /** Only what the client set; the server's defaults fill in the rest. */
  params: Partial<GenerationParams>
  stream: boolean
  /** stream_options.include_usage: a last chunk with the usage and no choices. */
  includeUsage: boolean
  /** Predicted Outputs' text, which the engine drafts from; null when none (or empty) was sent. */
  prediction: string | null
  /** response_format json_object or json_schema (its schema); null for text. */
  responseFormat: ResponseFormat | null
  /** The functions the model may call (none: an empty list) and whether it must. */
  tools: ToolDefinition[]
  toolChoice: ToolChoice
}

/** As many stop strings, as long, as a conversation's parameters may hold (app/schemas.ts). */
const MAX_STOPS = 16
const MAX_STOP_CHARS = 256

const stopString = z.string().min(1).max(MAX_STOP_CHARS, `a stop string is at most ${MAX_STOP_CHARS} characters`)
// Counted after the union: a failed union reports only "Invalid input".
const stops = z
  .union([stopString, z.array(stopString)])
  .refine((s) => typeof s === 'string' || s.length <= MAX_STOPS, `at most ${MAX_STOPS} stop strings`)

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() })
/** Chat Completions' file part: the file inline as a data URL (file ids name OpenAI's own storage). */
const filePart = z.looseObject({
  type: z.literal('file'),
  file: z.looseObject({ filename: z.string().max(255).nullish(), file_data: z.string().nullish(), file_id: z.unknown().optional() }),
})
const part = z.looseObject({ type: z.string() })
const message = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(part)]).nullish(),
  tool_calls: z.array(z.unknown()).nullish(),
  tool_call_id: z.string().max(256).nullish(),
})

const FUNCTION_NAME = /^[\w-]{1,64}$/
const functionName = z.string().regex(FUNCTION_NAME, 'a name of letters, digits, _ and -, at most 64')
/** OpenAI's tools[]: functions only. */
const tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: functionName,
    description: z.string().max(8192).nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  }),
})
const toolChoice = z.union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: functionName }) })])
/** An assistant message's tool_calls[]: `arguments` is JSON text, as the API returned it. */
const toolCall = z.looseObject({
  id: z.string().max(256),
  type: z.literal('function'),
  function: z.looseObject({ name: functionName, arguments: z.string() }),
})

// Unknown fields are ignored, as most OpenAI-compatible servers do; fields Hearth would have
// to ignore with a different meaning are refused in `unsupported` below.
const body = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  seed: z.number().int().nullish(),
  stop: stops.nullish(),
  n: z.number().int().nullish(),
  // Extensions vLLM and llama.cpp's server accept too.
  top_k: z.number().int().min(0).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repetition_penalty: z.number().gt(0).max(10).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  logprobs: z.boolean().nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  tools: z.array(tool).max(128, 'at most 128 tools').nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  functions: z.array(z.unknown()).nullish(),
  // Its shape is checked in `responseFormat` below, to say exactly what is wrong.
  response_format: z.looseObject({ type: z.string(), json_schema: z.unknown().optional() }).nullish(),
  // Predicted Outputs; its shape is checked in `prediction` below, to say exactly what is wrong.
  prediction: z.looseObject({ type: z.unknown(), content: z.unknown() }).nullish(),
})

type Body = z.infer<typeof body>

/** Parses the raw body; every refusal names the parameter at fault, as OpenAI's errors do. */
export function parseCompletionRequest(raw: string): CompletionRequest {
  let json: unknown
  try {
    json = JSON.parse(raw)
  } catch {
    throw badRequest('We could not parse the JSON body of your request. Send a JSON object with "model" and "messages".')
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw badRequest('The request body must be a JSON object with "model" and "messages".')
  }
  const parsed = body.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const param = issue ? paramName(issue.path) : null
    throw badRequest(`Invalid value for '${param ?? 'body'}': ${issue?.message ?? 'invalid'}.`, param)
  }
  const b = parsed.data
  const refusal = unsupported(b)
  if (refusal) throw refusal
  return {
    model: b.model,
    messages: b.messages.map(toChatMessage),
    params: params(b),
    stream: b.stream === true,
    includeUsage: b.stream === true && b.stream_options?.include_usage === true,
    prediction: prediction(b),
    responseFormat: responseFormat(b),
    ...tools(b),
  }
}

/** tools and tool_choice: a named function must be one of the tools. */
function tools(b: Body): { tools: ToolDefinition[]; toolChoice: ToolChoice } {
  const list: ToolDefinition[] = (b.tools ?? []).map(({ function: f }) => ({
    name: f.name,
    ...(f.description ? { description: f.description } : {}),
    ...(f.parameters ? { parameters: f.parameters } : {}),
  }))
  const choice = b.tool_choice ?? 'auto'
  if (typeof choice === 'object') {
    if (!list.some((t) => t.name === choice.function.name)) {
      throw badRequest(`Invalid value for 'tool_choice': the function '${choice.function.name}' is not among the tools.`, 'tool_choice.function.name')
    }
    return { tools: list, toolChoice: { name: choice.function.name } }
  }
  if (choice === 'required' && list.length === 0) throw badRequest("Invalid value for 'tool_choice': 'required' needs tools.", 'tool_choice')
  return { tools: list, toolChoice: choice }
}

const jsonSchemaFormat = z.looseObject({
  name: z.string().regex(/^[\w-]{1,64}$/, 'a name of letters, digits, _ and -, at most 64'),
  schema: z.record(z.string(), z.unknown()).optional(),
  strict: z.boolean().nullish(),
})

/** OpenAI's response_format: text, json_object (any JSON object), or json_schema ({name, schema, strict}). */
function responseFormat(b: Body): ResponseFormat | null {
  const format = b.response_format
  if (format == null || format.type === 'text') return null
  if (format.type === 'json_object') return { type: 'json_object' }
  if (format.type !== 'json_schema') {
    throw badRequest(`Invalid value for 'response_format.type': '${format.type}'; use 'text', 'json_object' or 'json_schema'.`, 'response_format.type')
  }
  const parsed = jsonSchemaFormat.safeParse(format.json_schema)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = ['response_format', 'json_schema', ...(issue?.path ?? []).map(String)].join('.')
    throw badRequest(`Invalid value for '${where}': ${issue?.message ?? 'invalid'}.`, where)
  }
  // No schema: any JSON object, as OpenAI takes it.
  return parsed.data.schema === undefined ? { type: 'json_object' } : { type: 'json_schema', schema: parsed.data.schema }
}

/** OpenAI's `prediction: { type: 'content', content: string | text parts }` as one text. */
function prediction(b: Body): string | null {
  if (b.prediction == null) return null
  const { type, content } = b.prediction
  if (type !== 'content') {
    throw badRequest(`Invalid value for 'prediction.type': ${JSON.stringify(type) ?? 'missing'}. The only supported value is 'content'.`, 'prediction.type')
  }
  if (typeof content === 'string') return content === '' ? null : content
  if (!Array.isArray(content)) {
    throw badRequest("Invalid value for 'prediction.content': expected a string or an array of text parts.", 'prediction.content')
  }
  // The parts are one text cut in pieces (a file in chunks): joined as they are.
  const texts = content.map((p: unknown, j) => {
    const text = textPart.safeParse(p)
    if (!text.success) {
      throw badRequest(`Invalid value for 'prediction.content[${j}]': a prediction holds text parts ({"type": "text", "text": "..."}) only.`, `prediction.content[${j}]`)
    }
    return text.data.text
  })
  const joined = texts.join('')
  return joined === '' ? null : joined
}

function params(b: Body): Partial<GenerationParams> {
  const p: Partial<GenerationParams> = {}
  if (b.temperature != null) p.temperature = b.temperature
  if (b.top_p != null) p.topP = b.top_p
  if (b.top_k != null) p.topK = b.top_k
  if (b.min_p != null) p.minP = b.min_p
  if (b.repetition_penalty != null) p.repetitionPenalty = b.repetition_penalty
  const maxTokens = b.max_completion_tokens ?? b.max_tokens
  if (maxTokens != null) p.maxTokens = maxTokens
  if (b.seed != null) p.seed = b.seed
  if (b.stop != null) p.stop = typeof b.stop === 'string' ? [b.stop] : b.stop
  return p
}

function unsupported(b: Body): HttpError | null {
  if (b.n != null && b.n !== 1) return badRequest('Hearth generates one choice per request: n must be 1.', 'n')
  for (const name of ['frequency_penalty', 'presence_penalty'] as const) {
    if (b[name]) return badRequest(`Hearth's sampler has no ${name}; use repetition_penalty (1 is off) instead.`, name)
  }
  if (b.logprobs) return badRequest('Hearth does not return log probabilities.', 'logprobs')
  if (b.logit_bias && Object.keys(b.logit_bias).length > 0) return badRequest('Hearth does not support logit_bias.', 'logit_bias')
  if (b.functions?.length) return badRequest("The functions parameter is OpenAI's old form: send tools instead.", 'functions')
  return null
}

// A Map, not an object: a role named like an Object.prototype member ('constructor', '__proto__')
// must be unknown, not found on the prototype.
const ROLES = new Map<string, PromptMessage['role']>([
  ['system', 'system'],
  ['developer', 'system'],
  ['user', 'user'],
  ['assistant', 'assistant'],
  ['tool', 'tool'],
])

function toChatMessage(m: Body['messages'][number], i: number): RequestMessage {
  const role = ROLES.get(m.role)
  if (role === undefined) {
    const why = m.role === 'function' ? "'function' is OpenAI's old form: send 'tool'" : 'the roles are system, developer, user, assistant and tool'
    throw badRequest(`Invalid value for 'messages[${i}].role': '${m.role}' (${why}).`, `messages[${i}].role`)
  }
  const calls = (m.tool_calls ?? []).map((c, j) => {
    const where = `messages[${i}].tool_calls[${j}]`
    if (role !== 'assistant') throw badRequest(`Only assistant messages carry tool_calls; '${where}' is in a ${m.role} message.`, where)
    const parsed = toolCall.safeParse(c)
    if (!parsed.success) throw badRequest(`Invalid value for '${where}': expected {"id", "type": "function", "function": {"name", "arguments"}}.`, where)
    return { id: parsed.data.id, name: parsed.data.function.name, arguments: parsed.data.function.arguments }
  })
  if (role === 'tool') {
    if (m.tool_call_id == null) throw badRequest(`'messages[${i}].tool_call_id' is required in a tool message.`, `messages[${i}].tool_call_id`)
    const content = typeof m.content === 'string' ? m.content : (m.content ?? []).map((p, j) => {
      const text = textPart.safeParse(p)
      if (!text.success) throw badRequest(`A tool's result is text; '${`messages[${i}].content[${j}]`}' is of type '${p.type}'.`, `messages[${i}].content[${j}].type`)
      return text.data.text
    }).join('\n')
    return { role, content, toolCallId: m.tool_call_id, files: [] }
  }
  // An assistant message that made calls may have no text.
  if (m.content == null && calls.length > 0) return { role, content: '', toolCalls: calls, files: [] }
  if (m.content == null) throw badRequest(`'messages[${i}].content' is required.`, `messages[${i}].content`)
  const withCalls = calls.length > 0 ? { toolCalls: calls } : {}
  if (typeof m.content === 'string') return { role, content: m.content, ...withCalls, files: [] }
  const texts: string[] = []
  const files: FilePart[] = []
  m.content.forEach((p, j) => {
    const where = `messages[${i}].content[${j}]`
    const text = textPart.safeParse(p)
    if (text.success) return void texts.push(text.data.text)
    if (p.type !== 'file') {
      throw badRequest(`Hearth's models read text and files only; '${where}' is of type '${p.type}'.`, `${where}.type`)
    }
    if (role !== 'user') throw badRequest(`Only user messages can carry files; '${where}' is in a ${m.role} message.`, where)
    files.push(fileOf(p, where))
  })
  return { role, content: texts.join('\n'), ...withCalls, files }
}

const DATA_URL = /^data:([^,;]*)(?:;[^,;]+)*;base64,/

/** A file part's bytes, from its data URL (or bare base64), and the name it goes by. */
function fileOf(p: unknown, where: string): FilePart {
  const parsed = filePart.safeParse(p)
  if (!parsed.success) throw badRequest(`Invalid value for '${where}.file': expected {"filename", "file_data": "data:<type>;base64,..."}.`, `${where}.file`)
  const { filename, file_data: data, file_id: fileId } = parsed.data.file
  if (data == null) {
    const why = fileId == null ? 'file_data is required' : 'Hearth keeps no uploaded files: send the file itself as file_data'
    throw badRequest(`Invalid value for '${where}.file': ${why}.`, `${where}.file.file_data`)
  }
  const base64 = data.replace(DATA_URL, '')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
    throw badRequest(`Invalid value for '${where}.file.file_data': expected a base64 data URL (data:<type>;base64,...).`, `${where}.file.file_data`)
  }
  const bytes = Buffer.from(base64, 'base64')
  if (bytes.length > MAX_DOCUMENT_BYTES) {
    throw badRequest(`'${where}.file' is ${bytes.length} bytes; Hearth reads files of at most ${MAX_DOCUMENT_BYTES / 2 ** 20} MiB.`, `${where}.file.file_data`)
  }
  return { name: filename?.trim() || `file ${where}`, bytes }
}

/** A zod path as OpenAI names parameters: messages[2].content. */
function paramName(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('')
}
