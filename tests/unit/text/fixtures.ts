// Tokenizer fixtures in the shapes of real Hub models, small enough to write by hand: ChatML
// (SmolLM2, Qwen2.5) from the test-model builder, Llama 3.2 (byte-level BPE with its own specials)
// and Phi-3.5 (SentencePiece BPE with byte fallback). The chat templates are the models' own.

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildTokenizerFiles } from '../../../tools/model-builder/tokenizer.ts'
import type { TokenizerSources } from '../../../src-main/engine/tokenizer.ts'

export const QWEN25_TEMPLATE = `{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
`

export const LLAMA32_TEMPLATE = `{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
`

export const PHI35_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}" +
  "{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}" +
  "{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' %}" +
  "{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"

/** Gemma's refusal of a system turn, the case renderChat folds into the first user message. */
export const NO_SYSTEM_TEMPLATE =
  "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
  "{% for message in messages %}{{ '<turn>' + message['role'] + '\\n' + message['content'] + '<end_of_turn>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<turn>assistant\\n' }}{% endif %}"

function addedToken(id: number, content: string, special = true): object {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special }
}

/** The test-model builder's ChatML tokenizer, with a chat template of choice. */
export function chatmlSources(vocabSize = 400, chatTemplate?: string): TokenizerSources {
  const files = buildTokenizerFiles({ vocabSize, seed: 7 })
  return {
    tokenizerJson: files.tokenizerJson,
    tokenizerConfig: files.tokenizerConfig,
    ...(chatTemplate !== undefined && { chatTemplate }),
  }
}

export const LLAMA_SPECIALS = [
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|start_header_id|>',
  '<|end_header_id|>',
  '<|eom_id|>',
  '<|eot_id|>',
] as const

/** Llama 3.2 Instruct's layout: byte-level BPE, specials after the vocab, BOS added by a template. */
export function llamaSources(): TokenizerSources & { ids: Record<(typeof LLAMA_SPECIALS)[number], number> } {
  const base = buildTokenizerFiles({ vocabSize: 400, seed: 3 }).tokenizerJson as Record<string, unknown>
  const ids = Object.fromEntries(LLAMA_SPECIALS.map((s, i) => [s, 400 + i])) as Record<
    (typeof LLAMA_SPECIALS)[number],
    number
  >
  const bos = ids['<|begin_of_text|>']
  const tokenizerJson = {
    ...base,
    added_tokens: LLAMA_SPECIALS.map((s) => addedToken(ids[s], s)),
    post_processor: {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [bos], tokens: ['<|begin_of_text|>'] } },
        },
      ],
    },
  }
  return {
    ids,
    tokenizerJson,
    tokenizerConfig: {
      bos_token: '<|begin_of_text|>',
      eos_token: '<|eot_id|>',
      chat_template: LLAMA32_TEMPLATE,
      clean_up_tokenization_spaces: true,
      model_max_length: 131072,
      tokenizer_class: 'PreTrainedTokenizerFast',
    },
    config: { bos_token_id: bos, eos_token_id: [ids['<|end_of_text|>'], ids['<|eom_id|>'], ids['<|eot_id|>']] },
    generationConfig: { bos_token_id: bos, eos_token_id: [ids['<|end_of_text|>'], ids['<|eom_id|>'], ids['<|eot_id|>']] },
  }
}

const PHI_SPECIALS = ['<|endoftext|>', '<|assistant|>', '<|end|>', '<|system|>', '<|user|>'] as const

/** Phi-3.5-mini's layout: SentencePiece BPE, spaces as U+2581, unknown bytes as <0xAB> tokens. */
export function phiSources(): TokenizerSources & { ids: Record<(typeof PHI_SPECIALS)[number], number> } {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 }
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b
  const pieces = ['▁', ...'abcdefghijklmnopqrstuvwxyzHTW,.!?\n', '日', '本', '語']
  for (const p of pieces) vocab[p] = Object.keys(vocab).length
  const merges: [string, string][] = [
    ['▁', 't'], ['h', 'e'], ['▁t', 'he'], ['l', 'l'], ['▁', 'w'], ['o', 'r'], ['▁w', 'or'], ['H', 'e'],
    ['He', 'll'], ['Hell', 'o'], ['▁', 'H'], ['▁H', 'ello'],
  ]
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length
  const size = Object.keys(vocab).length
  const ids = Object.fromEntries(PHI_SPECIALS.map((s, i) => [s, size + i])) as Record<(typeof PHI_SPECIALS)[number], number>
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      addedToken(0, '<unk>'),
      addedToken(1, '<s>'),
      addedToken(2, '</s>'),
      ...PHI_SPECIALS.map((s) => addedToken(ids[s], s)),
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges,
    },
  }
  return {
    ids,
    tokenizerJson,
    tokenizerConfig: {
      add_bos_token: false,
      add_eos_token: false,
      bos_token: '<s>',
      eos_token: '<|endoftext|>',
      pad_token: '<|endoftext|>',
      unk_token: '<unk>',
      legacy: false,
      chat_template: PHI35_TEMPLATE,
      clean_up_tokenization_spaces: false,
      tokenizer_class: 'LlamaTokenizer',
    },
    generationConfig: { eos_token_id: [ids['<|end|>'], ids['<|assistant|>'], ids['<|endoftext|>']] },
  }
}

/** A model folder in a fresh temp dir holding the given files; remove it with the returned cleanup. */
export async function writeModelDir(files: Record<string, string | object>): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-tokenizer-'))
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content))
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}
