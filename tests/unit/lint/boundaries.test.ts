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

  it('keeps the engine and onnxruntime out of main-process code', async () => {
    const session = "import { ModelSession } from '../engine/session.ts'\nexport const s = ModelSession"
    const ort = "import * as ort from 'onnxruntime-node'\nexport const o = ort"
    for (const file of ['src-main/app/x.ts', 'src-main/models/x.ts', 'src-main/electron/x.ts', 'src-main/engine-host/x.ts']) {
      assert.equal((await boundaryErrors(file, session)).length, 1, file)
      assert.equal((await boundaryErrors(file, ort)).length, 1, file)
    }
    const typeOnly = "import type { KvCache } from '../engine/kv-cache.ts'\nexport type K = KvCache"
    assert.equal((await boundaryErrors('src-main/app/x.ts', typeOnly)).length, 1, 'types too: they name engine internals')
    assert.deepEqual(await boundaryErrors('src-main/engine/x.ts', session.replace('../engine/', './')), [])
    assert.deepEqual(await boundaryErrors('src-main/engine/x.ts', ort), [])
  })

  it('keeps the engine and onnxruntime out of model-format, which both sides import', async () => {
    assert.equal((await boundaryErrors('src-main/model-format/x.ts', "import * as ort from 'onnxruntime-node'\nexport const o = ort")).length, 1)
    assert.equal((await boundaryErrors('src-main/model-format/x.ts', "import { loadModel } from '../engine/load-model.ts'\nexport const l = loadModel")).length, 1)
  })

  it('keeps main-process areas out of the engine and model-format', async () => {
    const store = "import { openStore } from '../store/store.ts'\nexport const o = openStore"
    const library = "import { createModelLibrary } from '../models/library.ts'\nexport const c = createModelLibrary"
    assert.equal((await boundaryErrors('src-main/engine/x.ts', store)).length, 1)
    assert.equal((await boundaryErrors('src-main/engine/graph/x.ts', store.replace('../', '../../'))).length, 1)
    assert.equal((await boundaryErrors('src-main/model-format/x.ts', library)).length, 1)
    assert.equal((await boundaryErrors('src-main/model-format/x.ts', store)).length, 1)
  })

  it('keeps the tools (test-model builder, benches) out of every part of src-main', async () => {
    const builder = (depth: number) => `import { buildModel } from '${'../'.repeat(depth)}tools/model-builder/build-model.ts'\nexport const b = buildModel`
    for (const [file, depth] of [['src-main/models/gguf/x.ts', 3], ['src-main/engine/x.ts', 2], ['src-main/model-format/x.ts', 2], ['src-main/electron/x.ts', 2]] as const) {
      assert.equal((await boundaryErrors(file, builder(depth))).length, 1, file)
    }
    assert.deepEqual(await boundaryErrors('tests/unit/x.ts', builder(2)), [])
  })

  it('lets the engine import model-format and src-shared', async () => {
    const protocol = "import type { HostMessage } from '../model-format/protocol.ts'\nexport type H = HostMessage"
    const errors = "import { AppError } from '../../src-shared/errors.ts'\nexport const e = AppError"
    assert.deepEqual(await boundaryErrors('src-main/engine/x.ts', protocol), [])
    assert.deepEqual(await boundaryErrors('src-main/engine/x.ts', errors), [])
    assert.deepEqual(await boundaryErrors('src-main/model-format/x.ts', errors), [])
  })

  it('lets main-process code import model-format and the engine-host', async () => {
    const shared = "import { inspectModelFolder } from '../model-format/model-folder.ts'\nexport const i = inspectModelFolder"
    const host = "import { EngineHost } from '../engine-host/engine-host.ts'\nexport const h = EngineHost"
    assert.deepEqual(await boundaryErrors('src-main/models/x.ts', shared), [])
    assert.deepEqual(await boundaryErrors('src-main/app/x.ts', host), [])
  })

  for (const area of ['engine', 'store', 'models']) {
    it(`keeps electron out of src-main/${area}`, async () => {
      const code = "import { app } from 'electron'\nexport const a = app"
      assert.equal((await boundaryErrors(`src-main/${area}/x.ts`, code)).length, 1)
      assert.deepEqual(await boundaryErrors('src-main/electron/x.ts', code), [])
    })
  }
})
