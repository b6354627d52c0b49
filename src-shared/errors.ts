// Errors cross process boundaries as plain { code, message } data and become AppError again.

export const ERROR_CODES = [
  'BAD_REQUEST',
  'NOT_FOUND',
  'CONFLICT',
  'UNAUTHORIZED',
  'MODEL_INVALID',
  'MODEL_UNSUPPORTED',
  'MODEL_TOO_BIG',
  'MODEL_NOT_LOADED',
  'CONTEXT_OVERFLOW',
  'ENGINE_CRASHED',
  'ENGINE_BUSY',
  'CANCELLED',
  'DB_FROM_FUTURE',
  'DB_CORRUPT',
  'IMPORT_INVALID',
  'DOWNLOAD_FAILED',
  'DISK_FULL',
  'REMOTE_FAILED',
  'INTERNAL',
  'HUB_UNREACHABLE',
  'DOWNLOAD_CORRUPT',
  'DOCUMENT_INVALID',
  'DOCUMENT_TOO_BIG',
  'TOOL_FAILED',
  'TOOL_TIMEOUT',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

const errorCodes: ReadonlySet<string> = new Set(ERROR_CODES)

export interface ErrorData {
  code: ErrorCode
  message: string
}

export class AppError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string) {
    super(message)
    this.name = 'AppError'
    this.code = code
  }

  toData(): ErrorData {
    return { code: this.code, message: this.message }
  }

  static fromData(data: ErrorData): AppError {
    return new AppError(data.code, data.message)
  }

  /**
   * Any thrown value as error data. Only Hearth's codes cross: a foreign one (SQLite's, the
   * system's) becomes DISK_FULL when the disk is full, else INTERNAL; the message is kept.
   */
  static toData(err: unknown): ErrorData {
    if (err instanceof AppError) return err.toData()
    if (isErrorData(err)) return { code: err.code, message: err.message }
    const code = (err as { code?: unknown } | null)?.code
    const message = err instanceof Error ? err.message : String(err)
    return { code: code === 'ENOSPC' || code === 'SQLITE_FULL' ? 'DISK_FULL' : 'INTERNAL', message }
  }
}

export function isErrorData(value: unknown): value is ErrorData {
  return (
    typeof value === 'object' &&
    value !== null &&
    errorCodes.has((value as ErrorData).code) &&
    typeof (value as ErrorData).message === 'string'
  )
}
