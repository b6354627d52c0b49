// How tests configure the test MCP server: the mcpServers entry that starts it.

import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { McpServerConfig } from '../../src-shared/types.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** The test server (tests/mcp/test-server.ts) run by this Node through tsx. */
export function testServer(...extraArgs: string[]): McpServerConfig {
  return { command: process.execPath, args: ['--import', 'tsx', path.join(root, 'tests/mcp/test-server.ts'), ...extraArgs], cwd: root }
}
