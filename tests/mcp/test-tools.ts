// The test MCP server's tools, for the stdio server (test-server.ts) and the HTTP one the tests start.

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { z } from 'zod'

const CAPITALS: Record<string, string> = { france: 'Paris', japan: 'Tokyo', kenya: 'Nairobi' }

export function testMcpServer(): McpServer {
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
  return server
}
