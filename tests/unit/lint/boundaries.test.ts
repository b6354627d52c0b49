// The import boundaries of the layout hold: lint rejects each crossing and accepts the allowed forms.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ESLint } from 'eslint'

const eslint = new ESLint({ cwd: process.cwd() })

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath })
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

describe('lint import boundaries', () => {
  it('keeps src-shared free of imports from outside it', async () => {
    assert.equal((await boundaryErrors('src-shared/x.ts', "import { z } from 'zod'\nexport const a = z")).length, 1)
    assert.equal((await boundaryErrors('src-shared/x.ts', "import type { App } from '../src-main/app/app.ts'\nexport type A = App")).length, 1)
    assert.deepEqual(await boundaryErrors('src-shared/x.ts', "import type { Api } from './api.ts'\nexport type A = Api"), [])
  })

  it('lets the renderer import only types from src-shared', async () => {
    const value = "import { API_METHODS } from '../src-shared/api.ts'\nexport const m = API_METHODS"
    const type = "import type { Api } from '../src-shared/api.ts'\nexport type A = Api"
    assert.equal((await boundaryErrors('src-renderer/lib/x.ts', value)).length, 1)
    assert.deepEqual(await boundaryErrors('src-renderer/lib/x.ts', type), [])
  })

  it('keeps main-process code and Node out of the renderer', async () => {
    assert.equal((await boundaryErrors('src-renderer/lib/x.ts', "import fs from 'node:fs'\nexport const f = fs")).length, 1)
    assert.equal((await boundaryErrors('src-renderer/lib/x.ts', "import { ipcRenderer } from 'electron'\nexport const i = ipcRenderer")).length, 1)
  })

  for (const area of ['engine', 'store', 'models']) {
    it(`keeps electron out of src-main/${area}`, async () => {
      const code = "import { app } from 'electron'\nexport const a = app"
      assert.equal((await boundaryErrors(`src-main/${area}/x.ts`, code)).length, 1)
      assert.deepEqual(await boundaryErrors('src-main/electron/x.ts', code), [])
    })
  }
})
