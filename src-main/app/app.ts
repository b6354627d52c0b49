// The composition root: builds every service from config, for Electron and browser mode alike.

import type { Api } from '../../src-shared/api.ts'
import type { AppInfo } from '../../src-shared/types.ts'
import { EventHub } from './events.ts'

export interface AppConfig {
  shell: AppInfo['shell']
  version: string
  /** Where the database, settings and caches live. */
  dataDir: string
  /** Where model folders live. */
  modelsDir: string
}

export interface App {
  readonly api: Api
  readonly events: EventHub
  close(): Promise<void>
}

export async function createApp(config: AppConfig): Promise<App> {
  const events = new EventHub()

  const api: Api = {
    async appInfo() {
      return {
        name: 'Hearth',
        version: config.version,
        platform: process.platform,
        arch: process.arch,
        shell: config.shell,
      }
    },
  }

  return {
    api,
    events,
    async close() {},
  }
}
