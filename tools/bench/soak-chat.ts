// The soak's chat users: each holds one bridge connection and keeps a few conversations going at
// once (send, regenerate, continue, now and then stop), recording every token it sees per reply.

import type { CallResult } from '../../src-shared/api.ts'
import type { Message, MessageStatus } from '../../src-shared/types.ts'
import type { BridgeClient } from './soak-bridge.ts'
import type { StreamedReply } from './soak-check.ts'

export interface ChatTally {
  conversations: number
  sends: number
  regenerates: number
  continues: number
  stops: number
  /** Calls the server answered with an error, by code. */
  refused: Record<string, number>
  /** `generationError` events, by code. */
  failures: Record<string, number>
  /** Replies whose `done` never came: not within the timeout, or not before the connection was lost. */
  hung: string[]
}

export function emptyChatTally(): ChatTally {
  return { conversations: 0, sends: 0, regenerates: 0, continues: 0, stops: 0, refused: {}, failures: {}, hung: [] }
}

export interface ChatLoad {
  /** Every client's replies, by message id; each client records the conversations it owns. */
  replies: Map<string, StreamedReply>
  tally: ChatTally
  rng: () => number
  /** False once the load phase is over: lanes end after their current reply. */
  running: () => boolean
  /** Chance that a reply is stopped after a random delay. */
  stopChance: number
  /** How long a reply may take, queued behind the others and an engine restart, before it counts as hung. */
  doneTimeoutMs: number
}

const WORDS = ['the', 'engine', 'cache', 'river', 'why', 'how', 'über', 'naïve', '東京', 'こんにちは', '🙂', '🔥', 'token', 'prefix', 'α', 'ω', 'line\nbreak', 'tab\there']

interface DoneWaiter {
  after: number
  resolve: (ended: boolean) => void
}

export class ChatClient {
  readonly #client: BridgeClient
  readonly #load: ChatLoad
  readonly #owned = new Set<string>()
  /** `done` events seen per reply: a continued reply ends once per run. */
  readonly #doneCounts = new Map<string, number>()
  readonly #waiters = new Map<string, DoneWaiter>()
  /** Stops scheduled or under way: run() ends them or waits for them, so none outlives the load. */
  readonly #stopTimers = new Set<NodeJS.Timeout>()
  readonly #stopCalls = new Set<Promise<void>>()

  constructor(client: BridgeClient, load: ChatLoad) {
    this.#client = client
    this.#load = load
    client.onEvent((event, payload) => {
      if (event === 'token') {
        const p = payload as { conversationId: string; messageId: string; text: string }
        if (this.#owned.has(p.conversationId)) this.#reply(p.conversationId, p.messageId).text += p.text
      } else if (event === 'done') {
        const p = payload as { conversationId: string; messageId: string; message: Message }
        if (this.#owned.has(p.conversationId)) this.#ended(p.conversationId, p.messageId, p.message)
      } else if (event === 'generationError') {
        const p = payload as { conversationId: string; error: { code: string } }
        if (this.#owned.has(p.conversationId)) count(this.#load.tally.failures, p.error.code)
      }
    })
  }

  /** Runs `lanes` conversations side by side until the load ends; resolves when their last replies have. */
  async run(lanes: number): Promise<void> {
    await Promise.all(Array.from({ length: lanes }, () => this.#lane()))
    for (const timer of this.#stopTimers) clearTimeout(timer)
    await Promise.all(this.#stopCalls)
  }

  async #lane(): Promise<void> {
    const { rng, running, tally } = this.#load
    while (running() && this.#client.lost === null) {
      const created = await this.#client.call('createConversation', {
        params: { maxTokens: 16 + Math.floor(rng() * 144) },
        contextPolicy: 'drop-oldest',
        ...(rng() < 0.3 ? { systemPrompt: `You are ${this.#text(3)}.` } : {}),
      })
      if (!this.#ok(created)) {
        await sleep(200)
        continue
      }
      const conversationId = created.value.id
      this.#owned.add(conversationId)
      tally.conversations += 1
      let last: { id: string; status: MessageStatus } | null = null
      for (let turn = 3 + Math.floor(rng() * 8); turn > 0 && running(); turn--) {
        const replyId = await this.#startReply(conversationId, last)
        if (replyId === null) break
        const ended = await this.#waitDone(replyId.id, replyId.after)
        if (!ended) {
          tally.hung.push(replyId.id)
          break
        }
        last = { id: replyId.id, status: this.#load.replies.get(replyId.id)?.done?.status ?? 'error' }
      }
    }
  }

  /** Sends, regenerates or continues; may schedule a stop. Null when the server refused. */
  async #startReply(conversationId: string, last: { id: string; status: MessageStatus } | null): Promise<{ id: string; after: number } | null> {
    const { rng, tally } = this.#load
    let started: CallResult<Message>
    if (last !== null && last.status !== 'complete' && rng() < 0.5) {
      tally.continues += 1
      started = await this.#client.call('continueReply', last.id)
    } else if (last !== null && rng() < 0.15) {
      tally.regenerates += 1
      started = await this.#client.call('regenerate', last.id)
    } else {
      tally.sends += 1
      const sent = await this.#client.call('send', conversationId, this.#text(2 + Math.floor(rng() * 12)))
      started = sent.ok ? { ok: true, value: sent.value.reply } : sent
    }
    if (!this.#ok(started)) return null
    const id = started.value.id
    this.#reply(conversationId, id)
    if (rng() < this.#load.stopChance) this.#stopLater(conversationId, rng() * 1500)
    return { id, after: this.#doneCounts.get(id) ?? 0 }
  }

  #stopLater(conversationId: string, ms: number): void {
    const timer = setTimeout(() => {
      this.#stopTimers.delete(timer)
      this.#load.tally.stops += 1
      const call = this.#client.call('stop', conversationId).then((r) => void this.#ok(r))
      this.#stopCalls.add(call)
      void call.finally(() => this.#stopCalls.delete(call))
    }, ms)
    this.#stopTimers.add(timer)
  }

  #waitDone(messageId: string, after: number): Promise<boolean> {
    if ((this.#doneCounts.get(messageId) ?? 0) > after) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(messageId)
        resolve(false)
      }, this.#load.doneTimeoutMs)
      const waiter: DoneWaiter = {
        after,
        resolve: (ended) => {
          clearTimeout(timer)
          resolve(ended)
        },
      }
      this.#waiters.set(messageId, waiter)
      void this.#client.closed.then(() => {
        if (this.#waiters.get(messageId) !== waiter) return
        this.#waiters.delete(messageId)
        waiter.resolve(false)
      })
    })
  }

  #ended(conversationId: string, messageId: string, message: Message): void {
    this.#reply(conversationId, messageId).done = { status: message.status, content: message.content }
    const n = (this.#doneCounts.get(messageId) ?? 0) + 1
    this.#doneCounts.set(messageId, n)
    const waiter = this.#waiters.get(messageId)
    if (waiter !== undefined && n > waiter.after) {
      this.#waiters.delete(messageId)
      waiter.resolve(true)
    }
  }

  #reply(conversationId: string, messageId: string): StreamedReply {
    let reply = this.#load.replies.get(messageId)
    if (reply === undefined) {
      reply = { conversationId, messageId, text: '', done: null }
      this.#load.replies.set(messageId, reply)
    }
    return reply
  }

  #ok<T>(result: CallResult<T>): result is { ok: true; value: T } {
    if (!result.ok) count(this.#load.tally.refused, result.error.code)
    return result.ok
  }

  #text(words: number): string {
    return Array.from({ length: words }, () => WORDS[Math.floor(this.#load.rng() * WORDS.length)]).join(' ')
  }
}

export function count(tally: Record<string, number>, key: string): void {
  tally[key] = (tally[key] ?? 0) + 1
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
