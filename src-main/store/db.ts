// Opens the history database: refuses one from a newer Hearth, moves a corrupt file aside,
// sets the connection up (WAL, foreign keys, busy timeout) and migrates.

import fs from 'node:fs'
import Database from 'better-sqlite3'
import { AppError } from '../../src-shared/errors.ts'
import { migrate, schemaVersion, type Migration } from './migrations.ts'

export interface OpenDbReport {
  /** What quick_check covered at open: everything, or (a large file closed cleanly) the small tables. */
  checked: 'all' | 'small-tables' | 'nothing-yet'
  /** Where a corrupt database was moved (never deleted); null when the file was sound. */
  movedAside: string | null
  /** What was wrong with the moved file, in SQLite's words. */
  corruption: string | null
  /** The copy taken before migrating; null when no migration ran on existing data. */
  backup: string | null
  migratedFrom: number
  version: number
}

const SQLITE_MAGIC = 'SQLite format 3\0'
/**
 * quick_check reads every page: 11-14 s for a million messages (1.1 GB) on a busy 2-core machine.
 * Up to this size it runs at every start; above it, only after an unclean exit (when
 * damage is likeliest), and otherwise on the small tables, so that start-up stays quick.
 */
export const FULL_CHECK_MAX_BYTES = 64 * 2 ** 20
const SMALL_TABLES = ['conversations', 'settings']
const USER_VERSION_OFFSET = 60

/** File-name-safe timestamp, for the names of moved-aside files and backups. */
export function fileStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[:.]/g, '-')
}

function fromFuture(file: string, found: number, known: number): AppError {
  return new AppError(
    'DB_FROM_FUTURE',
    `The history in ${file} was written by a newer Hearth (schema version ${found}; this version knows up to ${known}). ` +
      'Update Hearth to open it. The file has not been changed.',
  )
}

/**
 * What the file's 100-byte header says, read without SQLite so that a database from the
 * future is refused before any connection could touch it.
 */
function readHeader(file: string): { kind: 'absent' } | { kind: 'garbage' } | { kind: 'sqlite'; userVersion: number } {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' }
    throw err
  }
  try {
    const header = Buffer.alloc(100)
    const read = fs.readSync(fd, header, 0, 100, 0)
    if (read === 0) return { kind: 'absent' }
    if (read < 100 || header.toString('latin1', 0, 16) !== SQLITE_MAGIC) return { kind: 'garbage' }
    return { kind: 'sqlite', userVersion: header.readUInt32BE(USER_VERSION_OFFSET) }
  } finally {
    fs.closeSync(fd)
  }
}

function isCorruption(err: unknown): boolean {
  return (
    err instanceof Database.SqliteError &&
    (err.code === 'SQLITE_NOTADB' || err.code === 'SQLITE_CORRUPT' || err.code.startsWith('SQLITE_CORRUPT_'))
  )
}

/** null when the tables checked are sound, else SQLite's description of the damage. */
function damage(db: Database.Database, tables: readonly string[] | 'all'): string | null {
  try {
    // PRAGMA takes no bound parameters; the table names are our own constants.
    const pragmas = tables === 'all' ? ['quick_check'] : tables.map((t) => `quick_check(${t})`)
    const rows = pragmas.flatMap((p) => db.pragma(p) as { quick_check: string }[])
    const problems = rows.map((r) => r.quick_check).filter((p) => p !== 'ok')
    return problems.length === 0 ? null : problems.slice(0, 5).join('; ')
  } catch (err) {
    if (isCorruption(err)) return (err as Error).message
    throw err
  }
}

/** Renames the database and its WAL companions to `<file>.corrupt-<stamp>[-wal|-shm]`. */
function moveAside(file: string, now: number): string {
  const target = `${file}.corrupt-${fileStamp(now)}`
  fs.renameSync(file, target)
  for (const suffix of ['-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, target + suffix)
  }
  return target
}

/**
 * The history is the user's alone: SQLite would create the file 0644 (less the umask), and it
 * gives the -wal and -shm it creates later the mode of the database file, so creating that
 * file 0600 first covers all three.
 */
const PRIVATE_FILE_MODE = 0o600

function connect(file: string): Database.Database {
  fs.closeSync(fs.openSync(file, 'a', PRIVATE_FILE_MODE))
  const db = new Database(file, { timeout: 5000 })
  db.pragma('journal_mode = WAL')
  // FULL: each commit reaches the disk, so a power cut loses no finished write either.
  db.pragma('synchronous = FULL')
  db.pragma('foreign_keys = ON')
  return db
}

export interface OpenDbOptions {
  migrations: readonly Migration[]
  now: () => number
  fullCheckMaxBytes: number
}

export function openDb(file: string, options: OpenDbOptions): { db: Database.Database; report: OpenDbReport } {
  const { migrations, now } = options
  const known = migrations.length
  const header = readHeader(file)
  if (header.kind === 'sqlite' && header.userVersion > known) throw fromFuture(file, header.userVersion, known)

  let movedAside: string | null = null
  let corruption: string | null = null
  let checked: OpenDbReport['checked'] = 'nothing-yet'
  if (header.kind === 'garbage') {
    corruption = 'file is not a database'
  } else if (header.kind === 'sqlite') {
    // Closing the last connection cleanly checkpoints and removes the WAL; opening one (the
    // probe too) creates it, so look first.
    const uncleanExit = fs.existsSync(`${file}-wal`)
    // Read-only, so that closing it never checkpoints a newer Hearth's WAL into the file.
    const probe = new Database(file, { readonly: true, timeout: 5000, fileMustExist: true })
    try {
      // A WAL left by a newer Hearth can hold a user_version the header does not show yet.
      let version: number | null = null
      try {
        version = schemaVersion(probe)
      } catch (err) {
        if (!isCorruption(err)) throw err
        corruption = (err as Error).message
      }
      if (version !== null && version > known) throw fromFuture(file, version, known)
      if (version !== null) {
        checked = uncleanExit || fs.statSync(file).size <= options.fullCheckMaxBytes ? 'all' : 'small-tables'
        corruption = damage(probe, checked === 'all' ? 'all' : SMALL_TABLES)
      }
    } finally {
      probe.close()
    }
  }
  if (corruption !== null) movedAside = moveAside(file, now())

  const db = connect(file)
  try {
    const outcome = migrate(db, migrations, (from) => `${file}.backup-v${from}-${fileStamp(now())}`)
    // VACUUM INTO creates the copy as a new database, with SQLite's default mode.
    if (outcome.backup !== null) fs.chmodSync(outcome.backup, PRIVATE_FILE_MODE)
    return {
      db,
      report: { checked, movedAside, corruption, backup: outcome.backup, migratedFrom: outcome.from, version: outcome.to },
    }
  } catch (err) {
    db.close()
    throw err
  }
}
