// Test helpers for the store: a temp data dir per test and a clock the test moves by hand.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import Database from 'better-sqlite3'
import { openStore, type Store, type StoreOptions } from '../../../src-main/store/store.ts'

export function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-store-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

export interface Clock {
  now: () => number
  advance(ms: number): void
}

export function manualClock(start = 1_700_000_000_000): Clock {
  let t = start
  return { now: () => t, advance: (ms) => (t += ms) }
}

/** A store in a fresh temp dir, closed after the test. */
export function tempStore(t: TestContext, options: Partial<StoreOptions> = {}): Store {
  const store = openStore({ dataDir: tempDir(t), ...options })
  t.after(() => store.close())
  return store
}

/** A second, raw connection to look at what is really on disk. */
export function rawDb(file: string): Database.Database {
  return new Database(file, { readonly: true })
}
