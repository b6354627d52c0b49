// A small MCP server for the tests, over stdio, written with the official SDK:
//   add {a, b}       the sum, as text
//   lookup {key}     a capital city from a fixed table; an unknown key is a tool error
//   sleep {ms}       answers after ms milliseconds (timeouts, cancels)
//   repeat {text, times}  text repeated (results too large for the context)
//   crash {}         writes to stderr and exits at once (a server dying mid-call)
// `--fail-start` makes it say why on stderr and exit before it answers anything.

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { z } from 'zod'

if (process.argv.includes('--fail-start')) {
  process.stderr.write('test-server: no configuration given, giving up\n')
  process.exit(3)
}

const CAPITALS: Record<string, string> = { france: 'Paris', japan: 'Tokyo', kenya: 'Nairobi' }

const server = new McpServer({ name: 'hearth-test-server', version: '1.0.0' })
const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] })

server.registerTool('add', { description: 'Adds two numbers.', inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => text(String(a + b)))
server.registerTool('lookup', { description: 'The capital city of a country.', inputSchema: { key: z.string() } }, ({ key }) => {
  const found = CAPITALS[key.toLowerCase()]
  return found === undefined ? { ...text(`No capital known for "${key}".`), isError: true } : text(found)
})
server.registerTool('sleep', { description: 'Waits, then answers.', inputSchema: { ms: z.number().int().min(0) } }, async ({ ms }) => {
  await new Promise((resolve) => setTimeout(resolve, ms))
  return text(`slept ${ms} ms`)
})
server.registerTool('repeat', { description: 'Repeats a text.', inputSchema: { text: z.string(), times: z.number().int().min(1) } }, ({ text: t, times }) => text(t.repeat(times)))
server.registerTool('crash', { description: 'Exits at once.', inputSchema: {} }, () => {
  process.stderr.write('test-server: crashing as asked\n')
  process.exit(1)
})

await server.connect(new StdioServerTransport())
