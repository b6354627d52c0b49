// `npm run bench -- store`: the history store at scale (10,000 conversations, 1,000,000
// messages): list, open a 1,000-message conversation, search, append. Prints medians.

import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import { parseTerms, toFtsPhrase } from '../../src-main/store/search-terms.ts'
import { DB_FILE, openStore, type Store } from '../../src-main/store/store.ts'
import { seededRandom } from '../model-builder/random.ts'

const USAGE = `usage: npm run bench -- store [--dir DIR] [--conversations N] [--messages N] [--runs N]
  --dir DIR         keep the generated database in DIR and reuse it when its counts match
                    (default: a temp dir, removed afterwards)
  --conversations N default 10000
  --messages N      default 1000000 (one conversation gets 1,000 of them)
  --runs N          timed runs per operation, after 2 warm-ups (default 15)`

const BIG_CONVERSATION = 1000
/** Seeds the generated data: the same database every time. */
const SEED = 20_240_601

/**
 * 20,000 made-up words, letters drawn with English frequencies (so prefixes fan out about as
 * they do in English), and used with Zipf frequencies, as words are in real text.
 */
class Vocabulary {
  readonly words: string[]
  readonly #cumulative: Float64Array
  readonly #next: () => number

  constructor(next: () => number, size = 20_000) {
    const letters = 'eeeeeeeeeeeetttttttttaaaaaaaaoooooooiiiiiiinnnnnnnsssssshhhhhhrrrrrrddddllllcccuuummwwffggyyppbbvkjxqz'
    const unique = new Set<string>()
    while (unique.size < size) {
      const length = 2 + Math.floor(next() * 5) + Math.floor(next() * 5)
      let word = ''
      for (let i = 0; i < length; i++) word += letters[Math.floor(next() * letters.length)]
      unique.add(word)
    }
    this.words = [...unique]
    this.#cumulative = new Float64Array(size)
    let sum = 0
    for (let r = 0; r < size; r++) this.#cumulative[r] = sum += 1 / (r + 1)
    for (let r = 0; r < size; r++) this.#cumulative[r] = (this.#cumulative[r] ?? 0) / sum
    this.#next = next
  }

  sentence(words: number): string {
    const out: string[] = []
    for (let i = 0; i < words; i++) {
      const x = this.#next()
      let lo = 0
      let hi = this.#cumulative.length - 1
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if ((this.#cumulative[mid] ?? 1) < x) lo = mid + 1
        else hi = mid
      }
      out.push(this.words[lo] ?? '')
    }
    return out.join(' ')
  }
}

interface Generated {
  bigConversationId: string
  seconds: number
}

/** Fills an empty, migrated database in one transaction, as fast as SQLite allows. */
function generate(file: string, conversations: number, messages: number): Generated {
  const started = performance.now()
  const next = seededRandom(SEED)
  const vocabulary = new Vocabulary(next)
  const db = new Database(file)
  db.pragma('synchronous = OFF')
  db.pragma('foreign_keys = ON')
  const insertConversation = db.prepare(`INSERT INTO conversations (id, title, created_at, updated_at, model_id,
    system_prompt, params, context_policy, pinned, archived, active_leaf_id)
    VALUES (?, ?, ?, ?, 'smollm2-135m', '', '{}', 'drop-oldest', ?, ?, ?)`)
  const insertMessage = db.prepare(`INSERT INTO messages (id, conversation_id, parent_id, role, content, status,
    stats, model_id, created_at) VALUES (?, ?, ?, ?, ?, 'complete', ?, ?, ?)`)
  const stats = JSON.stringify({ promptTokens: 300, reusedTokens: 250, prefillMs: 90, prefillTokensPerSecond: 550,
    ttftMs: 110, decodeTokensPerSecond: 20, generatedTokens: 120, stopReason: 'eos', provider: 'cpu' })
  let bigConversationId = ''
  let clock = Date.UTC(2024, 0, 1)
  db.transaction(() => {
    const rest = messages - BIG_CONVERSATION
    for (let c = 0; c < conversations; c++) {
      const id = randomUUID()
      if (c === 0) bigConversationId = id
      const count = c === 0 ? BIG_CONVERSATION : Math.floor(((c) * rest) / (conversations - 1)) - Math.floor(((c - 1) * rest) / (conversations - 1))
      const createdAt = clock
      let parent: string | null = null
      const rows: unknown[][] = []
      for (let m = 0; m < count; m++) {
        const messageId = randomUUID()
        const user = m % 2 === 0
        const text = vocabulary.sentence(user ? 5 + Math.floor(next() * 35) : 20 + Math.floor(next() * 140))
        clock += 1000 + Math.floor(next() * 60_000)
        rows.push([messageId, id, parent, user ? 'user' : 'assistant', text, user ? null : stats, user ? null : 'smollm2-135m', clock])
        parent = messageId
      }
      insertConversation.run(id, vocabulary.sentence(3), createdAt, clock, c % 50 === 0 ? 1 : 0, c % 20 === 0 ? 1 : 0, parent)
      for (const row of rows) insertMessage.run(...row)
    }
  })()
  db.close()
  return { bigConversationId, seconds: (performance.now() - started) / 1000 }
}

interface Timing {
  name: string
  medianMs: number
  maxMs: number
  /** CPU time of this process: on a shared machine it shows the work when wall time shows the wait. */
  medianCpuMs: number
  note: string
}

function median(samples: number[]): number {
  return [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? NaN
}

function time(name: string, runs: number, fn: () => string): Timing {
  let note = ''
  for (let i = 0; i < 2; i++) note = fn()
  const wall: number[] = []
  const cpu: number[] = []
  for (let i = 0; i < runs; i++) {
    const cpuStart = process.cpuUsage()
    const start = performance.now()
    note = fn()
    wall.push(performance.now() - start)
    const used = process.cpuUsage(cpuStart)
    cpu.push((used.user + used.system) / 1000)
  }
  return { name, medianMs: median(wall), maxMs: Math.max(...wall), medianCpuMs: median(cpu), note }
}

/** Words of the generated vocabulary by rank, with how many messages hold each. */
function searchWords(file: string, vocabulary: Vocabulary): { word: string; hits: number }[] {
  // Read-write: closing it removes the WAL, so the store's next open counts as after a clean exit.
  const db = new Database(file)
  try {
    const count = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH ?')
    return [20_000, 3_000, 600, 300, 30, 3].map((rank) => {
      const word = vocabulary.words[rank - 1] ?? ''
      return { word, hits: count.get(parseTerms(word).map(toFtsPhrase).join(' '))?.n ?? 0 }
    })
  } finally {
    db.close()
  }
}

function measure(store: Store, bigConversationId: string, words: { word: string; hits: number }[], runs: number): Timing[] {
  const timings: Timing[] = []
  timings.push(time('list conversations (first 100)', runs, () => `${store.conversations.list({ limit: 100 }).length} rows`))
  timings.push(time('list conversations (all)', runs, () => `${store.conversations.list().length} rows`))
  timings.push(
    time('open the 1,000-message conversation', runs, () => {
      store.conversations.get(bigConversationId)
      return `${store.messages.branch(bigConversationId).length} messages on the branch`
    }),
  )
  for (const { word, hits } of words) {
    timings.push(
      time(`search "${word}" (top 50)`, runs, () => {
        const found = store.search(word).filter((h) => h.kind === 'message')
        return `${found.length} shown of ${hits} matches, ${found[0]?.rank === null ? 'newest first' : 'ranked'}`
      }),
    )
  }
  // Appends go to the conversation at the top of the list, so reruns keep the big one at 1,000.
  const current = store.conversations.list({ limit: 1 })[0]?.id ?? ''
  const leaf = () => store.conversations.get(current).activeLeafId
  timings.push(
    time('append a user message', runs, () => {
      store.messages.addUser(current, leaf(), 'one more question, please')
      return 'one commit'
    }),
  )
  timings.push(
    time('stream a reply (start, 20 pieces, finish)', runs, () => {
      const writer = store.messages.startAssistant(current, leaf(), 'smollm2-135m')
      for (let i = 0; i < 20; i++) writer.append(`piece ${i} `)
      writer.finish({ status: 'complete' })
      return 'two commits, indexed'
    }),
  )
  return timings
}

/** Wall ms of openStore; `afterCrash` holds a second connection open so the WAL is there, as after a crash. */
function timeOpen(dir: string, afterCrash: boolean): number {
  const other = afterCrash ? new Database(path.join(dir, DB_FILE)) : null
  other?.pragma('user_version')
  const started = performance.now()
  const store = openStore({ dataDir: dir })
  const ms = performance.now() - started
  store.close()
  other?.close()
  return ms
}

function countsMatch(file: string, conversations: number, messages: number): string | null {
  if (!fs.existsSync(file)) return null
  // Read-write: closing it removes the WAL, so the store's next open counts as after a clean exit.
  const db = new Database(file)
  try {
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n
    if (n('SELECT count(*) AS n FROM conversations') !== conversations) return null
    // The timed appends add messages; a reused database has at least the generated ones.
    if (n('SELECT count(*) AS n FROM messages') < messages) return null
    const big = db.prepare('SELECT conversation_id AS id FROM messages ORDER BY seq LIMIT 1').get() as { id: string } | undefined
    return big?.id ?? null
  } finally {
    db.close()
  }
}

export async function runStoreBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string' },
      conversations: { type: 'string', default: '10000' },
      messages: { type: 'string', default: '1000000' },
      runs: { type: 'string', default: '15' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  const conversations = Number(values.conversations)
  const messages = Number(values.messages)
  const runs = Number(values.runs)
  if (!(conversations >= 2 && messages >= BIG_CONVERSATION + conversations && runs >= 1)) throw new Error(USAGE)

  const dir = values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-store-bench-'))
  const file = path.join(dir, DB_FILE)
  try {
    let bigConversationId = countsMatch(file, conversations, messages)
    if (bigConversationId === null) {
      fs.rmSync(dir, { recursive: true, force: true })
      openStore({ dataDir: dir }).close()
      console.log(`generating ${conversations} conversations, ${messages} messages in ${file} ...`)
      const generated = generate(file, conversations, messages)
      bigConversationId = generated.bigConversationId
      console.log(`generated in ${generated.seconds.toFixed(1)} s (one transaction, FTS triggers on)`)
    } else {
      console.log(`reusing ${file}`)
    }
    const words = searchWords(file, new Vocabulary(seededRandom(SEED)))

    const openAfterCrash = timeOpen(dir, true)
    const openAfterExit = timeOpen(dir, false)
    const store = openStore({ dataDir: dir })
    try {
      const bytes = fs.statSync(file).size
      console.log(`database: ${(bytes / 2 ** 20).toFixed(0)} MiB`)
      console.log(`open after a clean exit (quick_check of the small tables): ${openAfterExit.toFixed(0)} ms`)
      console.log(`open after a crash (quick_check of every page): ${openAfterCrash.toFixed(0)} ms`)
      console.log(`median of ${runs} runs after 2 warm-ups; aim: each under 20 ms; load average ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} cores\n`)
      console.log('| operation | median ms | max ms | median CPU ms | |\n|---|---:|---:|---:|---|')
      for (const t of measure(store, bigConversationId, words, runs)) {
        console.log(`| ${t.name} | ${t.medianMs.toFixed(2)} | ${t.maxMs.toFixed(2)} | ${t.medianCpuMs.toFixed(2)} | ${t.note} |`)
      }
    } finally {
      store.close()
    }
  } finally {
    if (values.dir === undefined) fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runStoreBench(process.argv.slice(2))
}
