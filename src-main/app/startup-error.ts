// Why Hearth could not start, in words a person can act on: what went wrong, and where.

import { AppError } from '../../src-shared/errors.ts'

export interface StartupFailure {
  /** One sentence; Hearth's own errors already name their file. */
  what: string
  /** The file, folder or address the system named, when it named one. */
  where: string | null
}

/** System and SQLite codes a data folder can raise, in a person's words. */
const REASONS: Record<string, string> = {
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EROFS: 'The disk is read-only',
  ENOSPC: 'The disk is full',
  EDQUOT: 'The disk quota is used up',
  ENOTDIR: 'A file is where a folder should be',
  EISDIR: 'A folder is where a file should be',
  ENOENT: 'Not found',
  ELOOP: 'Too many symbolic links',
  EIO: 'The disk could not be read or written',
  EADDRINUSE: 'The address is already in use',
  SQLITE_BUSY: 'The history file is locked by another program',
  SQLITE_CANTOPEN: 'The history file could not be opened',
  SQLITE_READONLY: 'The history file is read-only',
  SQLITE_FULL: 'The disk is full',
  SQLITE_IOERR: 'The history file could not be read or written',
  SQLITE_PERM: 'Permission denied on the history file',
}

export function describeStartupError(err: unknown): StartupFailure {
  if (err instanceof AppError) return { what: oneLine(err.message), where: null }
  const { code, syscall, path, address, port } = (err ?? {}) as Partial<Record<'code' | 'syscall' | 'path' | 'address' | 'port', unknown>>
  const message = oneLine(err instanceof Error ? err.message : String(err))
  const reason = typeof code === 'string' ? (REASONS[code] ?? REASONS[code.replace(/_[A-Z]+$/, '')]) : undefined
  // Node's own message ("EACCES: permission denied, open '/x'") repeats the code and the path.
  const what = reason === undefined ? message : typeof syscall === 'string' ? `${reason} (${String(code)})` : `${reason} (${String(code)}: ${message})`
  const where = typeof path === 'string' ? path : typeof address === 'string' && typeof port === 'number' ? `${address}:${port}` : null
  return { what, where }
}

/** What stderr gets: one line, no stack. */
export function startupErrorLine(err: unknown, dataDir: string): string {
  const { what, where } = describeStartupError(err)
  return `Hearth could not start: ${what.replace(/\.$/, '')}${where === null ? '' : `: ${where}`}. Data folder: ${dataDir}`
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}
