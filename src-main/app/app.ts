// The composition root: builds every service from config, for Electron and browser mode alike.

import os from 'node:os'
import path from 'node:path'
import type { Api } from '../../src-shared/api.ts'
import type { AppInfo } from '../../src-shared/types.ts'
import { ApiServerControl } from '../api-server/control.ts'
import { EngineHost } from '../engine-host/engine-host.ts'
import { McpHub } from '../mcp/hub.ts'
import type { DiscoverOptions } from '../models/gguf/discover.ts'
import type { ConversionSpawner } from '../models/gguf/run-conversion.ts'
import { createModelLibrary } from '../models/library.ts'
import { watchModelsFolder } from '../models/watch-folder.ts'
import { RemoteProviders } from '../remote/remote-providers.ts'
import { plainBox, type SecretBox } from '../remote/secret-box.ts'
import { openStore } from '../store/store.ts'
import { createApi } from './api.ts'
import { appBackend } from './app-backend.ts'
import { ChatService } from './chat-service.ts'
import { DocumentExtractor } from '../documents/extract.ts'
import { DocumentService, type TextExtractor } from './documents.ts'
import { hostEngine, type EnginePort } from './engine-port.ts'
import { EventHub } from './events.ts'
import { generators } from './generator.ts'
import { ModelImports } from './model-imports.ts'
import { ModelService } from './model-service.ts'
import { makePrivateDir } from './paths.ts'
import { SnapshotPurge, sweepSnapshots } from './snapshot-purge.ts'

/** Disk KV snapshots may take, all conversations together. */
const SNAPSHOT_BUDGET_BYTES = 2 * 2 ** 30
/** How long quitting waits for replies to stop before it ends the engine under them. */
const STOP_GRACE_MS = 5000

export interface AppConfig {
  shell: AppInfo['shell']
  version: string
  /** Where the database, settings and caches live. */
  dataDir: string
  /** Where model folders live. */
  modelsDir: string
  /** Default: the engine host forking a Node process; Electron's runs the engine in a utilityProcess. */
  engine?: EnginePort
  /** How the GGUF converter's process starts: the desktop app's built convert.js in a utilityProcess; default its source, forked. */
  converter?: { entry: string; spawn: ConversionSpawner }
  /** What reads attached files; default the DocumentExtractor of this config's `extract` process. */
  extractor?: TextExtractor & { close?(): Promise<void> }
  /** The desktop app's folder dialog; browser mode has none. */
  pickFolder?: () => Promise<string | null>
  /** The desktop app's file manager, showing a folder; browser mode has none. */
  openPath?: (dir: string) => Promise<void>
  /** The desktop app's GGUF file dialog; browser mode has none. */
  pickGgufFile?: () => Promise<string | null>
  /** Where LM Studio's, Jan's and Ollama's folders are looked for; default the user's home and OLLAMA_MODELS, tests a fake home. */
  discovery?: DiscoverOptions
  /** How remote providers' API keys are kept; Electron passes safeStorageBox(safeStorage). Default: a 0600 file. */
  secrets?: SecretBox
  /** `serve --api [--api-port N]`: the API server on for this run, whatever Settings say. */
  apiServer?: { enabled: boolean; port?: number | undefined }
  /** Tests shorten the flush interval and the undo window, and set the clock. */
  store?: { flushIntervalMs?: number; undoWindowMs?: number; now?: () => number }
  /** Milliseconds on a monotonic clock, for how long replies wait for the engine; tests set it. Default performance.now. */
  clock?: () => number
  /** How long close() lets replies stop before it ends the engine; tests shorten it. Default 5 s. */
  stopGraceMs?: number
}

export interface App {
  readonly api: Api
  readonly events: EventHub
  close(): Promise<void>
}

export async function createApp(config: AppConfig): Promise<App> {
  const events = new EventHub()
  const snapshotDir = path.join(config.dataDir, 'kv-cache')
  // Before anything is written: the engine writes snapshots into a folder that is already private.
  makePrivateDir(config.dataDir)
  makePrivateDir(snapshotDir)
  const store = openStore({ dataDir: config.dataDir, ...config.store })
  const settings = () => store.settings.all()
  const library = createModelLibrary({ modelsDir: config.modelsDir, converter: config.converter })
  const engine = config.engine ?? hostEngine(new EngineHost())
  // No engine runs yet: snapshots of conversations purged when the store opened can go now.
  const conversationIds = [...store.conversations.list(), ...store.conversations.list({ archived: true })].map((c) => c.id)
  await sweepSnapshots(snapshotDir, conversationIds).catch((err: unknown) => {
    console.error(`KV snapshots of deleted conversations not removed: ${(err as Error).message}`)
  })
  const snapshots = new SnapshotPurge(snapshotDir, config.store?.now)
  const models = new ModelService({ library, engine, events, settings, snapshotDir, snapshotBudgetBytes: SNAPSHOT_BUDGET_BYTES })
  const remote = new RemoteProviders({ dataDir: config.dataDir, secrets: config.secrets ?? plainBox })
  const extractor = config.extractor ?? new DocumentExtractor()
  const documents = new DocumentService({ store, extractor, events })
  const tools = new McpHub({ client: { name: 'Hearth', version: config.version }, onChange: (servers) => events.emit('toolServers', { servers }) })
  const chat = new ChatService({ store, models, generatorFor: generators({ engine, models, remote }), events, settings, documents, tools, now: config.clock })
  const apiServer = new ApiServerControl({
    dataDir: config.dataDir,
    backend: appBackend({ library, models, engine, settings, extractor }),
    settings,
    override: config.apiServer,
  })
  const imports = new ModelImports(library, events)
  const unsubscribe = [
    library.on('download', (progress) => events.emit('downloadProgress', progress)),
    library.on('changed', () => events.emit('modelsChanged', {})),
  ]
  // Model folders copied in or removed by hand show without a reload.
  const folderWatch = await watchModelsFolder(library.modelsDir, () => events.emit('modelsChanged', {}))
  const core = createApi({
    info: {
      name: 'Hearth',
      version: config.version,
      platform: process.platform,
      arch: process.arch,
      shell: config.shell,
      dataDir: config.dataDir,
      modelsDir: library.modelsDir,
    },
    store,
    chat,
    documents,
    models,
    library,
    imports,
    discovery: config.discovery ?? { home: os.homedir(), ollamaModels: process.env.OLLAMA_MODELS },
    engine,
    events,
    snapshots,
    pickFolder: config.pickFolder,
    openPath: config.openPath,
    pickGgufFile: config.pickGgufFile,
  })
  const api: Api = {
    ...core,
    async setSettings(patch) {
      const result = await core.setSettings(patch)
      await apiServer.apply()
      if (patch.mcpServers !== undefined) await tools.apply(result.mcpServers)
      return result
    },
    listRemoteProviders: () => remote.list(),
    addRemoteProvider: (provider) => remote.add(provider),
    refreshRemoteProvider: (providerId) => remote.refresh(providerId),
    removeRemoteProvider: (providerId) => remote.remove(providerId),
    apiServerStatus: () => apiServer.status(),
    configureApiServer: (patch) => apiServer.configure(patch),
    listToolServers: async () => tools.status(),
    restartToolServer: (name) => tools.restart(name),
    answerToolCall: async (messageId, decision) => chat.answerToolCall(messageId, decision),
    cancelToolCall: async (messageId) => chat.cancelToolCall(messageId),
  }
  // Not awaited: servers start in the background and say when they are ready.
  void tools.apply(settings().mcpServers)
  const served = await apiServer.apply()
  if (served.error !== null) {
    events.emitWhenHeard('notice', { level: 'warning', message: `The API server did not start: ${served.error}` })
  }
  const { report } = store
  if (report.movedAside !== null) {
    events.emitWhenHeard('notice', {
      level: 'warning',
      message: `The history file was damaged (${report.corruption}); it was kept as ${report.movedAside} and a new one was started.`,
    })
  }
  if (report.interrupted > 0) {
    events.emitWhenHeard('notice', {
      level: 'info',
      message: `${report.interrupted === 1 ? 'A reply was' : `${report.interrupted} replies were`} cut off when Hearth last closed. Their text is kept and they can be continued.`,
    })
  }

  return {
    api,
    events,
    async close() {
      await apiServer.close()
      imports.cancelAll()
      // An engine stuck in native code never answers the cancel: after a grace period it is
      // ended under its replies, which then fail with their text kept. Its close persists the caches.
      let grace: NodeJS.Timeout | undefined
      await Promise.race([chat.stopAll(), new Promise((resolve) => (grace = setTimeout(resolve, config.stopGraceMs ?? STOP_GRACE_MS)))])
      clearTimeout(grace)
      models.dispose()
      for (const off of unsubscribe) off()
      folderWatch.close()
      await engine.close()
      await chat.stopAll()
      await tools.close()
      await snapshots.purgeAll()
      await extractor.close?.()
      store.close()
    },
  }
}
