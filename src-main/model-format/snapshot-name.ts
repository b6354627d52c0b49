// Where a conversation's KV snapshot lives: the engine writes it there, and main deletes the
// snapshots of purged conversations without an engine.

import { createHash } from 'node:crypto'
import path from 'node:path'

export const SNAPSHOT_EXT = '.kv'

/** The key is hashed: a conversation id never becomes a path, whatever it contains. */
export function snapshotFile(dir: string, key: string): string {
  return path.join(dir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}${SNAPSHOT_EXT}`)
}
