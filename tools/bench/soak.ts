// `npm run bench -- soak`: browser mode and its API server under concurrent clients for a bounded
// time while the engine is killed at random points; afterwards every stored reply must hold a
// prefix of what streamed, the database pass quick_check, memory be back at its plateau, and the
// server still answer. Last, the server itself is killed under a reply and started again.

import { createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildModel } from '../model-builder/build-model.ts'
import { seededRandom } from '../model-builder/random.ts'
import { emptyApiTally, runApiClient } from './soak-api.ts'
import { BridgeClient } from './soak-bridge.ts'
import { ChatClient, emptyChatTally, sleep } from './soak-chat.ts'
import { checkReplies, memoryFigures, type StreamedReply } from './soak-check.ts'
import { killServerMidReply, outlives, probeServer, runChaos, sampleRss, type ChaosTally, type CutReply, type Probe } from './soak-phases.ts'
import { judge, renderSoakMarkdown, type Findings, type SoakConfig, type SoakReport } from './soak-report.ts'
import { readStore, startServe, stopServe, type ServeChild, type ServeDirs } from './soak-server.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MODEL = 'tiny-chat'
const MIB = 2 ** 20
/** How long the cut reply streams before the server is killed: past a flush interval (250 ms). */
const CUT_AFTER_MS = 700

const USAGE = `usage: npm run bench -- soak [options]
  --seconds N          how long the load runs (default 60)
  --chat-clients N     WebSocket bridge clients (default 4)
  --lanes N            conversations each bridge client keeps going at once (default 2)
  --api-clients N      OpenAI API clients, streaming and not (default 2)
  --kill-every S       mean seconds between engine kills (default 5)
  --stop-chance P      chance a reply is stopped part way (default 0.15; API requests abandoned alike)
  --warmup S           seconds of load before the memory plateau is measured (default a quarter of --seconds)
  --settle S           idle seconds after the load before the end RSS (default 5)
  --rss-tolerance F    end RSS may exceed the plateau by this fraction (default 0.2)
  --seed N             the clients' and the chaos loop's random choices (default 1)
  --keep               keep the temporary data and models folder
  --json FILE          default .cache/bench/results/soak.json, with soak.md and soak-server.log beside it
  --publish            write docs/bench/soak.json and soak.md`

export async function runSoakBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: 'string' },
      'chat-clients': { type: 'string' },
      lanes: { type: 'string' },
      'api-clients': { type: 'string' },
      'kill-every': { type: 'string' },
      'stop-chance': { type: 'string' },
      warmup: { type: 'string' },
      settle: { type: 'string' },
      'rss-tolerance': { type: 'string' },
      seed: { type: 'string' },
      keep: { type: 'boolean' },
      json: { type: 'string' },
      publish: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) return console.log(USAGE)
  const num = (name: string, value: string | undefined, fallback: number, min: number, max = Infinity): number => {
    const n = value === undefined ? fallback : Number(value)
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} takes a number from ${min}${max < Infinity ? ` to ${max}` : ''}\n${USAGE}`)
    return n
  }
  const seconds = num('seconds', values.seconds, 60, 5)
  const stopChance = num('stop-chance', values['stop-chance'], 0.15, 0, 1)
  const config: SoakConfig = {
    seconds,
    chatClients: Math.round(num('chat-clients', values['chat-clients'], 4, 1)),
    lanes: Math.round(num('lanes', values.lanes, 2, 1)),
    apiClients: Math.round(num('api-clients', values['api-clients'], 2, 0)),
    killEverySeconds: num('kill-every', values['kill-every'], 5, 0.5),
    stopChance,
    abortChance: stopChance,
    warmupSeconds: num('warmup', values.warmup, seconds / 4, 0, seconds - 1),
    settleSeconds: num('settle', values.settle, 5, 3),
    rssTolerance: num('rss-tolerance', values['rss-tolerance'], 0.2, 0),
    seed: Math.round(num('seed', values.seed, 1, 0)),
  }
  const results = path.join(ROOT, '.cache', 'bench', 'results')
  const jsonFile = values.publish ? path.join(ROOT, 'docs', 'bench', 'soak.json') : path.resolve(values.json ?? path.join(results, 'soak.json'))
  await mkdir(results, { recursive: true })
  const logFile = path.join(results, 'soak-server.log')
  const log = createWriteStream(logFile)
  const work = await mkdtemp(path.join(os.tmpdir(), 'hearth-soak-'))
  try {
    const report = await soak(config, work, log)
    await new Promise((resolve) => log.end(resolve))
    const logged = (await readFile(logFile, 'utf8')).split('\n').filter((line) => /internal error|unhandled|uncaught/i.test(line))
    report.checks.push({ name: 'no internal error logged', ok: logged.length === 0, detail: logged.length === 0 ? `none in ${path.relative(ROOT, logFile)}` : logged.slice(0, 3).join(' / ') })
    report.ok = report.checks.every((c) => c.ok)
    await mkdir(path.dirname(jsonFile), { recursive: true })
    await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`)
    await writeFile(jsonFile.replace(/\.json$/, '.md'), renderSoakMarkdown(report))
    console.log(`\n${renderSoakMarkdown(report)}\nwrote ${jsonFile} and its .md; the server's output is in ${logFile}`)
    if (!report.ok) process.exitCode = 1
  } finally {
    if (!log.writableEnded) log.end()
    if (values.keep) console.log(`kept ${work}`)
    else await rm(work, { recursive: true, force: true })
  }
}

function say(line: string): void {
  console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`)
}

async function soak(config: SoakConfig, work: string, log: WriteStream): Promise<SoakReport> {
  const dirs = { dataDir: path.join(work, 'data'), modelsDir: path.join(work, 'models') }
  // Endless, with a long context: the reply the server is killed under cannot end first (speculative
  // decoding writes thousands of this model's tokens a second).
  await buildModel(path.join(dirs.modelsDir, MODEL), { shape: 'tiny', contextLength: 32768, endless: true, seed: 7 })
  const servers: ServeChild[] = []
  const serve = async (): Promise<ServeChild> => {
    const server = await startServe(dirs, log)
    servers.push(server)
    return server
  }
  try {
    return await phases(config, dirs, serve)
  } finally {
    // Still running only when a phase threw: nothing may outlive the bench.
    for (const server of servers) if (server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGKILL')
  }
}

async function phases(config: SoakConfig, dirs: ServeDirs, serve: () => Promise<ServeChild>): Promise<SoakReport> {
  const rng = seededRandom(config.seed)
  const t0 = performance.now()
  const now = (): number => (performance.now() - t0) / 1000
  say('starting browser mode with the API server')
  const server = await serve()
  let died: Findings['serverDied'] = null
  let killing = false
  void server.exited.then((code) => {
    if (!killing) died = { atSeconds: now(), code, signal: server.process.signalCode }
  })
  const sampler = sampleRss(server.pid, now)
  const replies = new Map<string, StreamedReply>()
  const chat = emptyChatTally()
  const api = emptyApiTally()
  const chaos: ChaosTally = { kills: 0, noEngine: 0, at: [] }
  let loading = true
  const running = (): boolean => loading
  const clients = await Promise.all(Array.from({ length: config.chatClients }, () => BridgeClient.connect(server.port, server.token)))

  say(`load for ${config.seconds} s: ${config.chatClients} bridge clients x ${config.lanes} conversations, ${config.apiClients} API clients, engine kills every ~${config.killEverySeconds} s`)
  const chatLoad = { replies, tally: chat, rng, running, stopChance: config.stopChance, doneTimeoutMs: 60_000 }
  const loaded = Promise.all([
    ...clients.map((client) => new ChatClient(client, chatLoad).run(config.lanes)),
    ...Array.from({ length: config.apiClients }, () =>
      runApiClient({ apiUrl: server.apiUrl, model: MODEL, tally: api, rng, running, abortChance: config.abortChance }),
    ),
    runChaos(server, config.killEverySeconds, rng, running, now, chaos),
  ])
  try {
    await Promise.race([sleep(config.seconds * 1000), loaded])
  } finally {
    loading = false
  }
  const loadEnd = now()
  say(`load over after ${chaos.kills} engine kills; letting the replies in flight end`)
  await loaded
  const lost = clients.flatMap((client, i) => (client.lost === null ? [] : [`bridge client ${i}: ${client.lost}`]))
  for (const client of clients) client.close()
  say(`drained in ${(now() - loadEnd).toFixed(1)} s; idle for ${config.settleSeconds} s`)
  await sleep(config.settleSeconds * 1000)
  await sampler.stop()

  let probes: Probe[] = []
  let cut: CutReply | null = null
  if (died === null) {
    probes = await probeServer(server, MODEL, chat.conversations)
    say('killing the server under a reply')
    killing = true
    cut = await killServerMidReply(server, replies, CUT_AFTER_MS)
  } else {
    say(`the server died during the soak (${JSON.stringify(died)}): see the log`)
  }
  const enginePid = cut?.enginePid ?? sampler.lastEnginePid
  const engineOutlived = enginePid !== null && (await outlives(enginePid, 10_000))
  const afterKill = readStore(dirs.dataDir)
  // The replies the server's end cut off: the one killed on purpose, or whatever was streaming when it died.
  const cutOff = cut !== null ? [cut.messageId] : afterKill.replies.filter((r) => r.status === 'streaming').map((r) => r.id)

  say('starting it again on the same data')
  const again = await serve()
  const restartProbes = await probeServer(again, MODEL, died === null ? chat.conversations + 1 : null)
  const exitCode = await stopServe(again)
  const afterClose = readStore(dirs.dataDir)

  let memory: Findings['memory']
  try {
    memory = memoryFigures(sampler.server, { warmupEnd: config.warmupSeconds, loadEnd })
  } catch (err) {
    memory = (err as Error).message
  }
  return judge({
    machine: {
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
      cores: os.availableParallelism(),
      platform: `${process.platform}-${process.arch}`,
      node: process.versions.node,
      date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    },
    config,
    chat,
    api,
    chaos: { kills: chaos.kills, noEngine: chaos.noEngine, enginesSeen: sampler.enginePids.size },
    lost,
    serverDied: died,
    memory,
    serverRss: sampler.server,
    engineMiB: sampler.engine.map((sample) => sample.bytes / MIB),
    probes,
    cut,
    enginePid,
    engineOutlived,
    replyCheck: checkReplies(afterKill.replies, replies, new Set(cutOff)),
    afterKill,
    cutOff,
    restartProbes,
    exitCode,
    afterClose,
  })
}
