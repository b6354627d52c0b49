// Argument schemas for every Api method: payloads are validated here, where they enter main.

import { z } from 'zod'
import type { Api, ApiMethod } from '../../src-shared/api.ts'

type ArgsSchemas = { [M in ApiMethod]: z.ZodType<Parameters<Api[M]>> }

export const argsSchemas: ArgsSchemas = {
  appInfo: z.tuple([]),
}
