// The soak's verdict and report: what the phases found, judged against the invariants, as JSON and
// as the short Markdown table beside it.

import type { MessageStatus } from '../../src-shared/types.ts'
import type { ApiTally } from './soak-api.ts'
import type { ChatTally } from './soak-chat.ts'
import type { MemoryFigures, ReplyCheck, RssSample } from './soak-check.ts'
import type { ChaosTally, CutReply, Probe } from './soak-phases.ts'
import type { StoreContents } from './soak-server.ts'

export interface SoakConfig {
  seconds: number
  chatClients: number
  lanes: number
  apiClients: number
  killEverySeconds: number
  stopChance: number
  abortChance: number
  warmupSeconds: number
  settleSeconds: number
  rssTolerance: number
  seed: number
}

interface Machine {
  cpu: string
  cores: number
  platform: string
  node: string
  date: string
}

/** What the phases saw, before judging. */
export interface Findings {
  machine: Machine
  config: SoakConfig
  chat: ChatTally
  api: ApiTally
  chaos: Omit<ChaosTally, 'at'> & { enginesSeen: number }
  /** Bridge connections the server dropped during the load. */
  lost: string[]
  /** Set when the server ended by itself during the soak. */
  serverDied: { atSeconds: number; code: number | null; signal: string | null } | null
  /** The server's RSS figures, or why there are none. */
  memory: MemoryFigures | string
  serverRss: RssSample[]
  engineMiB: number[]
  /** After the load, before the server is killed on purpose (none when it had died). */
  probes: Probe[]
  cut: CutReply | null
  /** The engine process when the server ended, and whether it was still running 10 s later. */
  enginePid: number | null
  engineOutlived: boolean
  replyCheck: ReplyCheck
  /** The database right after the server's end, and after a restart and a clean exit. */
  afterKill: StoreContents
  afterClose: StoreContents
  /** Replies streaming when the server ended. */
  cutOff: string[]
  restartProbes: Probe[]
  exitCode: number | null
}

export interface SoakCheck {
  name: string
  ok: boolean
  detail: string
}

export interface SoakReport {
  machine: Machine
  config: SoakConfig
  chat: Omit<ChatTally, 'hung'> & { replies: number; statuses: Record<MessageStatus, number>; streamedChars: number; hung: number }
  api: Omit<ApiTally, 'violations'>
  chaos: Findings['chaos']
  serverDied: Findings['serverDied']
  memory: {
    server: MemoryFigures | null
    /** [seconds since the start, MiB] once a second, for a closer look at the plateau. */
    serverSeries: [number, number][]
    engine: { startMiB: number; peakMiB: number; endMiB: number } | null
  }
  probes: Probe[]
  serverKill: (CutReply & { storedChars: number; recoveredAs: MessageStatus | null }) | null
  checks: SoakCheck[]
  /** The first violations found, to start from (the checks count them all). */
  violations: string[]
  ok: boolean
}

const counts = (tally: Record<string, number>): string =>
  Object.entries(tally).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'

const quickCheckOk = (rows: readonly string[]): boolean => rows.length === 1 && rows[0] === 'ok'

/** The invariants, each with what it saw. */
export function judge(f: Findings): SoakReport {
  const { chat, api, chaos, replyCheck, config } = f
  const crashes = (chat.failures.ENGINE_CRASHED ?? 0) + (api.errors.engine_crashed ?? 0)
  const otherFailures = Object.entries(chat.failures).filter(([code]) => code !== 'ENGINE_CRASHED')
  const before = new Map(f.afterKill.replies.map((r) => [r.id, r]))
  const after = new Map(f.afterClose.replies.map((r) => [r.id, r]))
  const unrecovered = f.cutOff.filter((id) => after.get(id)?.status !== 'interrupted' || after.get(id)?.content !== before.get(id)?.content)
  const memory = typeof f.memory === 'string' ? null : f.memory
  const probeDetail = (probes: Probe[]): string => probes.map((p) => `${p.name} ${p.ok ? `${p.ms} ms` : p.detail}`).join('; ') || 'not run'
  const checks: SoakCheck[] = [
    {
      name: 'the server stays up',
      ok: f.serverDied === null,
      detail: f.serverDied === null ? 'up until killed on purpose' : `exited by itself at ${f.serverDied.atSeconds.toFixed(1)} s (code ${f.serverDied.code}, signal ${f.serverDied.signal})`,
    },
    {
      name: 'stored replies hold what streamed',
      ok: replyCheck.violations.length === 0,
      detail: `${replyCheck.whole} of ${f.afterKill.replies.length} replies hold all that streamed; ${replyCheck.violations.length} violations; ${f.cutOff.length} cut off by the server's end lost ${replyCheck.charsLost} chars`,
    },
    { name: 'every reply ended', ok: chat.hung.length === 0, detail: `${chat.hung.length} without a done event` },
    {
      name: 'generation errors are engine crashes, at most one per kill',
      ok: otherFailures.length === 0 && crashes <= chaos.kills,
      detail: `${crashes} crash errors (chat and API) for ${chaos.kills} kills${otherFailures.length > 0 ? `; also ${counts(Object.fromEntries(otherFailures))}` : ''}`,
    },
    { name: 'no chat call refused', ok: Object.keys(chat.refused).length === 0, detail: counts(chat.refused) },
    { name: 'bridge connections stay open', ok: f.lost.length === 0, detail: f.lost.join('; ') || `${config.chatClients} of ${config.chatClients}` },
    { name: 'API answers follow the contract', ok: api.violations.length === 0, detail: `${api.violations.length} of ${api.requests} outside it` },
    {
      name: 'memory back at its plateau',
      ok: memory !== null && memory.endVsPlateau <= 1 + config.rssTolerance,
      detail:
        memory === null
          ? `not measured: ${String(f.memory)}`
          : `end ${memory.endMiB.toFixed(0)} MiB = ${memory.endVsPlateau.toFixed(2)}x the plateau ${memory.plateauMiB.toFixed(0)} MiB (allowed ${(1 + config.rssTolerance).toFixed(2)}x)`,
    },
    { name: 'the server answers after the soak', ok: f.probes.length > 0 && f.probes.every((p) => p.ok), detail: probeDetail(f.probes) },
    { name: "quick_check after the server's end", ok: quickCheckOk(f.afterKill.quickCheck), detail: f.afterKill.quickCheck.slice(0, 3).join('; ') },
    {
      name: 'the engine does not outlive its server',
      ok: !f.engineOutlived,
      detail: f.enginePid === null ? 'no engine ran at the end' : `engine ${f.enginePid} ${f.engineOutlived ? 'still running 10 s later' : 'gone'}`,
    },
    { name: 'a restart answers again', ok: f.restartProbes.every((p) => p.ok), detail: probeDetail(f.restartProbes) },
    {
      name: 'cut-off replies come back interrupted with their text',
      ok: unrecovered.length === 0,
      detail: `${f.cutOff.length - unrecovered.length} of ${f.cutOff.length}${unrecovered.length > 0 ? `; not: ${unrecovered.slice(0, 3).join(', ')}` : ''}`,
    },
    { name: 'the restarted server exits cleanly', ok: f.exitCode === 0, detail: `exit code ${f.exitCode ?? 'none: killed after 30 s'}` },
    { name: 'quick_check after the clean exit', ok: quickCheckOk(f.afterClose.quickCheck), detail: f.afterClose.quickCheck.slice(0, 3).join('; ') },
  ]
  const { hung, ...chatRest } = chat
  const { violations: apiViolations, ...apiRest } = api
  const cutBefore = f.cut === null ? undefined : before.get(f.cut.messageId)
  return {
    machine: f.machine,
    config,
    chat: { ...chatRest, hung: hung.length, replies: f.afterKill.replies.length, statuses: replyCheck.statuses, streamedChars: replyCheck.streamedChars },
    api: apiRest,
    chaos,
    serverDied: f.serverDied,
    memory: {
      server: memory,
      serverSeries: f.serverRss.map((sample): [number, number] => [Math.round(sample.t * 10) / 10, Math.round((sample.bytes / 2 ** 20) * 10) / 10]),
      engine: f.engineMiB.length === 0 ? null : { startMiB: f.engineMiB[0]!, peakMiB: Math.max(...f.engineMiB), endMiB: f.engineMiB.at(-1)! },
    },
    probes: f.probes,
    serverKill: f.cut === null ? null : { ...f.cut, storedChars: cutBefore?.content.length ?? 0, recoveredAs: after.get(f.cut.messageId)?.status ?? null },
    checks,
    violations: [...replyCheck.violations, ...hung.map((id) => `reply ${id}: no done event`), ...apiViolations, ...f.lost].slice(0, 50),
    ok: checks.every((c) => c.ok),
  }
}

const mib = (n: number): string => `${n.toFixed(0)} MiB`

export function renderSoakMarkdown(r: SoakReport): string {
  const c = r.config
  const rows: [string, string][] = [
    ['load', `${c.seconds} s: ${c.chatClients} bridge clients x ${c.lanes} conversations, ${c.apiClients} API clients, an engine kill every ~${c.killEverySeconds} s, ${Math.round(c.stopChance * 100)}% of replies stopped`],
    ['conversations, replies', `${r.chat.conversations}, ${r.chat.replies} (${counts(r.chat.statuses)})`],
    ['chat calls', `send ${r.chat.sends}, regenerate ${r.chat.regenerates}, continue ${r.chat.continues}, stop ${r.chat.stops}; refused: ${counts(r.chat.refused)}`],
    ['streamed to bridge clients', `${r.chat.streamedChars} chars; generation errors: ${counts(r.chat.failures)}`],
    ['API requests', `${r.api.requests}: ${r.api.completed} answered (${r.api.streamed} streamed), ${r.api.aborted} abandoned; errors: ${counts(r.api.errors)}`],
    ['engine kills', `${r.chaos.kills} (${r.chaos.enginesSeen} engine processes seen by the sampler)`],
  ]
  const m = r.memory.server
  if (m !== null) {
    rows.push(['server RSS', `start ${mib(m.startMiB)}, peak ${mib(m.peakMiB)}, plateau ${mib(m.plateauMiB)}, end ${mib(m.endMiB)} (${m.endVsPlateau.toFixed(2)}x plateau; ${m.slopeMiBPerMin.toFixed(1)} MiB/min under load)`])
  }
  const e = r.memory.engine
  if (e !== null) rows.push(['engine RSS', `start ${mib(e.startMiB)}, peak ${mib(e.peakMiB)}, end ${mib(e.endMiB)}`])
  const k = r.serverKill
  if (k !== null) {
    rows.push(['server SIGKILL mid-reply', `after ${k.streamedMs} ms: stored ${k.storedChars} of ${k.streamedChars} streamed chars; after restart: ${k.recoveredAs ?? 'not found'}`])
  }
  const lines = [
    `# Soak: ${r.ok ? 'every invariant held' : 'INVARIANTS FAILED'}`,
    '',
    `${r.machine.date}, ${r.machine.cpu} (${r.machine.cores} cores), ${r.machine.platform}, Node ${r.machine.node}, seed ${c.seed}.`,
    '',
    '| figure | value |',
    '|---|---|',
    ...rows.map(([key, value]) => `| ${key} | ${value} |`),
    '',
    '| invariant | holds | detail |',
    '|---|---|---|',
    ...r.checks.map((check) => `| ${check.name} | ${check.ok ? 'yes' : '**no**'} | ${check.detail.replaceAll('|', '\\|')} |`),
  ]
  if (r.violations.length > 0) lines.push('', '## First violations', '', ...r.violations.map((v) => `- ${v}`))
  return `${lines.join('\n')}\n`
}
