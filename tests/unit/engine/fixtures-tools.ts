// A Hermes-style chat template that renders tools, as Qwen2.5's and Hermes' do (the tools as JSON
// in a system turn, calls in <tool_call> tags, results in <tool_response> ones), for test models.

import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { ToolDefinition } from '../../../src-shared/types.ts'

export const TOOLS_TEMPLATE = `{%- if tools %}<|im_start|>system
You may call these functions:
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools>
For each call write <tool_call>
{"name": <name>, "arguments": <arguments as a JSON object>}
</tool_call><|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'assistant' and message.tool_calls %}<|im_start|>assistant
{{ message.content }}{% for call in message.tool_calls %}<tool_call>
{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}
</tool_call>{% endfor %}<|im_end|>
{% elif message.role == 'tool' %}<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}`

/** Gives a built test model the template above. */
export async function withToolsTemplate(modelDir: string): Promise<string> {
  await writeFile(path.join(modelDir, 'chat_template.jinja'), TOOLS_TEMPLATE)
  return modelDir
}

/** Two tools whose arguments take few values: a call kept to them ends, whatever the model. */
export const TOOLS: ToolDefinition[] = [
  {
    name: 'get_weather',
    description: 'The weather in a city now.',
    parameters: {
      type: 'object',
      properties: { city: { enum: ['Paris', 'Oslo', 'Lima'] }, unit: { enum: ['C', 'F'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
  {
    name: 'add',
    description: 'Adds two small numbers.',
    parameters: {
      type: 'object',
      properties: { a: { enum: [1, 2, 3] }, b: { enum: [4, 5, 6] } },
      required: ['a', 'b'],
      additionalProperties: false,
    },
  },
]

/** The call's arguments parse and take the tool's values. */
export function argumentsFit(name: string, json: string): boolean {
  const args = JSON.parse(json) as Record<string, unknown>
  if (name === 'get_weather') return ['Paris', 'Oslo', 'Lima'].includes(args.city as string) && ['C', 'F'].includes(args.unit as string) && Object.keys(args).length === 2
  if (name === 'add') return [1, 2, 3].includes(args.a as number) && [4, 5, 6].includes(args.b as number) && Object.keys(args).length === 2
  return false
}
