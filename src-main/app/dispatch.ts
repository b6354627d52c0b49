// One entry point for calls from any transport: check the method, validate, call, wrap errors.

import { API_METHODS, type Api, type ApiMethod, type CallResult } from '../../src-shared/api.ts'
import { AppError } from '../../src-shared/errors.ts'
import { argsSchemas } from './schemas.ts'

const methods: ReadonlySet<string> = new Set(API_METHODS)

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && methods.has(name)
}

export async function dispatch(api: Api, method: unknown, args: unknown): Promise<CallResult> {
  try {
    if (!isApiMethod(method)) throw new AppError('BAD_REQUEST', `Unknown method: ${String(method)}`)
    const parsed = argsSchemas[method].safeParse(args)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const where = issue?.path.length ? ` at ${issue.path.join('.')}` : ''
      throw new AppError('BAD_REQUEST', `Invalid arguments for ${method}${where}: ${issue?.message ?? 'invalid'}`)
    }
    const fn = api[method] as (...a: unknown[]) => Promise<unknown>
    const value = await fn.apply(api, parsed.data as unknown[])
    return { ok: true, value }
  } catch (err) {
    return { ok: false, error: AppError.toData(err) }
  }
}
