// A small MCP server for the tests, over stdio, written with the official SDK:
//   add {a, b}       the sum, as text
//   lookup {key}     a capital city from a fixed table; an unknown key is a tool error
//   sleep {ms}       answers after ms milliseconds (timeouts, cancels)
//   repeat {text, times}  text repeated (results too large for the context)
//   crash {}         writes to stderr and exits at once (a server dying mid-call)
// `--fail-start` makes it say why on stderr and exit before it answers anything.

import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { testMcpServer } from './test-tools.ts'

if (process.argv.includes('--fail-start')) {
  process.stderr.write('test-server: no configuration given, giving up\n')
  process.exit(3)
}

await testMcpServer().connect(new StdioServerTransport())
