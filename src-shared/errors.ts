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

/** A CONTEXT_OVERFLOW's figures: the prompt as it would have been, and the context it did not fit. */
export interface ContextOverflow {
  promptTokens: number
  contextLength: number
}

export interface ErrorData {
  code: ErrorCode
  message: string
  overflow?: ContextOverflow
}

export class AppError extends Error {
  readonly code: ErrorCode
  readonly overflow: ContextOverflow | undefined
  constructor(code: ErrorCode, message: string, overflow?: ContextOverflow) {
    super(message)
    this.name = 'AppError'
    this.code = code
    this.overflow = overflow
  }

  toData(): ErrorData {
    return this.overflow === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, overflow: this.overflow }
  }

  static fromData(data: ErrorData): AppError {
    return new AppError(data.code, data.message, data.overflow)
  }

  /**
   * Any thrown value as error data. Only Hearth's codes cross: a foreign one (SQLite's, the
   * system's) becomes DISK_FULL when the disk is full, else INTERNAL; the message is kept.
   */
  static toData(err: unknown): ErrorData {
    if (err instanceof AppError) return err.toData()
    if (isErrorData(err)) return AppError.fromData(err).toData()
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
