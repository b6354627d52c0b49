// KV snapshots of deleted conversations. A snapshot holds the conversation's token ids, which
// decode back to its text, so it is removed with the conversation: here in main, by file name,
// whether or not an engine runs or a model is loaded.

import { readdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { SNAPSHOT_EXT, snapshotFile } from '../model-format/snapshot-name.ts'

/** A snapshot half written when the engine died; it holds the same tokens. */
const PARTIAL_EXT = `${SNAPSHOT_EXT}.tmp`

export class SnapshotPurge {
  readonly #dir: string
  readonly #now: () => number
  /** Deleted conversations that can still be restored: when their undo window ends. */
  readonly #deleted = new Map<string, number>()

  constructor(dir: string, now: () => number = Date.now) {
    this.#dir = dir
    this.#now = now
  }

  /** The conversation was deleted; until `undoUntil` it can be restored, cache and all. */
  deleted(conversationId: string, undoUntil: number): void {
    this.#deleted.set(conversationId, undoUntil)
  }

  restored(conversationId: string): void {
    this.#deleted.delete(conversationId)
  }

  /** Removes the snapshots of deleted conversations whose undo window has passed (the store's purge rule). */
  async purgeExpired(): Promise<void> {
    const now = this.#now()
    await this.#remove([...this.#deleted].filter(([, undoUntil]) => undoUntil < now).map(([id]) => id))
  }

  /** At quit: the store purges every deleted conversation when it next opens, with no undo. */
  async purgeAll(): Promise<void> {
    await this.#remove([...this.#deleted.keys()])
  }

  async #remove(conversationIds: string[]): Promise<void> {
    for (const id of conversationIds) {
      await rm(snapshotFile(this.#dir, id), { force: true })
      this.#deleted.delete(id)
    }
  }
}

/**
 * Removes snapshots that belong to no conversation: deleted in a session that ended before its
 * undo window did, or before snapshots were removed with their conversation. Call while no
 * engine runs. Returns how many files went.
 */
export async function sweepSnapshots(dir: string, conversationIds: Iterable<string>): Promise<number> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
  const kept = new Set<string>()
  for (const id of conversationIds) kept.add(path.basename(snapshotFile(dir, id)))
  const orphans = names.filter((n) => (n.endsWith(SNAPSHOT_EXT) && !kept.has(n)) || n.endsWith(PARTIAL_EXT))
  for (const name of orphans) await rm(path.join(dir, name), { force: true })
  return orphans.length
}
