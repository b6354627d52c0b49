// MCP servers as main runs them: their state and tools, kept current by `toolServers` events.

import type { ToolServerStatus } from '../../src-shared/types.ts'
import { api } from './api.ts'

class ToolsState {
  servers = $state<ToolServerStatus[]>([])

  constructor() {
    api.on('toolServers', ({ servers }) => (this.servers = servers))
  }

  async refresh(): Promise<void> {
    this.servers = await api.listToolServers()
  }

  find(name: string): ToolServerStatus | undefined {
    return this.servers.find((s) => s.name === name)
  }
}

export const tools = new ToolsState()

/** A call's arguments as indented JSON; the text as the model wrote it when it is not JSON. */
export function prettyArguments(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}
