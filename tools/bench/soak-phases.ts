// The soak's moves against the server: the chaos loop that kills the engine, the RSS sampler, the
// probes that ask whether it still answers, and the kill of the server itself under a reply.

import type { MessageStatus } from '../../src-shared/types.ts'
import { BridgeClient } from './soak-bridge.ts'
import type { RssSample, StreamedReply } from './soak-check.ts'
import { sleep } from './soak-chat.ts'
import { processTable, serverProcesses, type ServeChild } from './soak-server.ts'

export interface ChaosTally {
  /** SIGKILLs sent to an engine process. */
  kills: number
  /** Moments the loop chose when no engine process ran (after a kill, before the next request). */
  noEngine: number
  /** Seconds (since the soak started) of each kill. */
  at: number[]
}

/**
 * Until `running()` is false: waits an exponentially distributed time (mean `meanS`, at least
 * 0.2 s, so some kills land while the model is loaded again) and SIGKILLs the engine process.
 */
export async function runChaos(server: ServeChild, meanS: number, rng: () => number, running: () => boolean, now: () => number, tally: ChaosTally): Promise<void> {
  while (running()) {
    await sleep(Math.min(Math.max(-Math.log(1 - rng()) * meanS * 1000, 200), 4 * meanS * 1000))
    if (!running()) return
    const { engine } = serverProcesses(await processTable(), server.pid)
    if (engine === null) {
      tally.noEngine += 1
      continue
    }
    try {
      process.kill(engine.pid, 'SIGKILL')
      tally.kills += 1
      tally.at.push(now())
    } catch (err) {
      // It ended between the look and the kill: a kill that did not happen.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
    }
  }
}

export interface Sampler {
  server: RssSample[]
  engine: RssSample[]
  /** Distinct engine processes seen: one more per restart the sampler caught. */
  enginePids: Set<number>
  /** The engine process of the last sample that found one. */
  lastEnginePid: number | null
  stop(): Promise<void>
}

/** Samples the server's and its engine's RSS every `intervalMs`, until stopped or the server is gone. */
export function sampleRss(serverPid: number, now: () => number, intervalMs = 1000): Sampler {
  let stopped = false
  const sampler: Sampler = {
    server: [],
    engine: [],
    enginePids: new Set(),
    lastEnginePid: null,
    stop: async () => {
      stopped = true
      await loop
    },
  }
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now()
      const { server, engine } = serverProcesses(await processTable(), serverPid)
      const t = now()
      // The server is gone (killed, or the soak failed and ended it): nothing left to sample.
      if (server === null) return
      sampler.server.push({ t, bytes: server.rssBytes })
      if (engine !== null) {
        sampler.engine.push({ t, bytes: engine.rssBytes })
        sampler.enginePids.add(engine.pid)
        sampler.lastEnginePid = engine.pid
      }
      await sleep(Math.max(0, intervalMs - (performance.now() - started)))
    }
  })()
  // A failed look at the process table is reported by stop(), not as an unhandled rejection.
  loop.catch(() => undefined)
  return sampler
}

export interface Probe {
  name: string
  ok: boolean
  ms: number
  detail: string
}

/**
 * Does the server still answer: the bridge (a new connection, two calls) and the API (models, a
 * completion, which the engine must run). `conversations`: how many must be listed, when known.
 */
export async function probeServer(server: ServeChild, model: string, conversations: number | null): Promise<Probe[]> {
  const probes: Probe[] = []
  const probe = async (name: string, fn: () => Promise<string | null>): Promise<void> => {
    const started = performance.now()
    let problem: string | null
    try {
      problem = await fn()
    } catch (err) {
      problem = (err as Error).message
    }
    probes.push({ name, ok: problem === null, ms: Math.round(performance.now() - started), detail: problem ?? 'ok' })
  }
  let client: BridgeClient | null = null
  await probe('bridge: connect', async () => {
    client = await BridgeClient.connect(server.port, server.token)
    return null
  })
  const bridge = client as BridgeClient | null
  if (bridge !== null) {
    await probe('bridge: appInfo', async () => {
      const info = await bridge.call('appInfo')
      return info.ok ? null : `${info.error.code}: ${info.error.message}`
    })
    await probe('bridge: listConversations', async () => {
      const list = await bridge.call('listConversations')
      if (!list.ok) return `${list.error.code}: ${list.error.message}`
      return conversations === null || list.value.length === conversations ? null : `${list.value.length} conversations listed, ${conversations} created`
    })
    bridge.close()
  }
  await probe('api: GET /v1/models', async () => {
    const res = await fetch(`${server.apiUrl}/models`)
    const body = (await res.json()) as { data?: { id: string }[] }
    return res.status === 200 && body.data?.some((m) => m.id === model) ? null : `HTTP ${res.status}, ${JSON.stringify(body).slice(0, 200)}`
  })
  await probe('api: POST /v1/chat/completions', async () => {
    const res = await fetch(`${server.apiUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, max_tokens: 8, messages: [{ role: 'user', content: 'Still there?' }] }),
    })
    return res.status === 200 ? null : `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`
  })
  return probes
}

export interface CutReply {
  conversationId: string
  messageId: string
  /** What streamed before the kill. */
  streamedChars: number
  /** How long it had streamed when the server was killed. */
  streamedMs: number
  /** The engine process at the kill, to see it does not outlive its server. */
  enginePid: number | null
}

/**
 * Starts a long reply, lets it stream for `afterMs` (longer than a flush interval), and SIGKILLs
 * the server under it. What streamed goes into `replies` for the checks.
 */
export async function killServerMidReply(server: ServeChild, replies: Map<string, StreamedReply>, afterMs: number): Promise<CutReply> {
  const client = await BridgeClient.connect(server.port, server.token)
  // As long as the model's context allows.
  const created = await client.call('createConversation', { params: { maxTokens: 1_000_000 }, contextPolicy: 'drop-oldest' })
  if (!created.ok) throw new Error(`createConversation: ${created.error.message}`)
  const conversationId = created.value.id
  let reply: StreamedReply | null = null
  let first = 0
  const streamed = new Promise<void>((resolve, reject) => {
    client.onEvent((event, payload) => {
      if (event === 'token') {
        const p = payload as { conversationId: string; messageId: string; text: string }
        if (p.conversationId !== conversationId) return
        reply ??= { conversationId, messageId: p.messageId, text: '', done: null }
        reply.text += p.text
        first ||= performance.now()
        if (performance.now() - first >= afterMs) resolve()
      } else if (event === 'done') {
        const p = payload as { conversationId: string; message: { status: MessageStatus } }
        if (p.conversationId === conversationId) reject(new Error(`the reply ended (${p.message.status}) before the server was killed`))
      }
    })
  })
  // An early end rejects while the send is still under way: that is reported by the await below.
  streamed.catch(() => undefined)
  const sent = await client.call('send', conversationId, 'Tell me a very long story.')
  if (!sent.ok) throw new Error(`send: ${sent.error.message}`)
  await streamed
  const { engine } = serverProcesses(await processTable(), server.pid)
  server.process.kill('SIGKILL')
  await server.exited
  const cut = reply as StreamedReply | null
  if (cut === null) throw new Error('no token streamed')
  replies.set(cut.messageId, cut)
  return { conversationId, messageId: cut.messageId, streamedChars: cut.text.length, streamedMs: Math.round(performance.now() - first), enginePid: engine?.pid ?? null }
}

/** Whether process `pid` still exists `withinMs` from now (polled). */
export async function outlives(pid: number, withinMs: number): Promise<boolean> {
  const deadline = performance.now() + withinMs
  while (performance.now() < deadline) {
    if ((await processTable()).every((p) => p.pid !== pid)) return false
    await sleep(250)
  }
  return true
}
