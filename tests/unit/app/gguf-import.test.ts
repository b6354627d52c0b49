// Importing a GGUF through the Api, with the real stories260K fixture and the real converter
// process: progress events, cancel, one import of a file at a time, bad files, and models found
// in other apps' folders.

import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import type { Events } from '../../../src-shared/api.ts'
import { AppError } from '../../../src-shared/errors.ts'
import type { ImportProgress } from '../../../src-shared/types.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { dispatch } from '../../../src-main/app/dispatch.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'
import { STORIES_GGUF, storiesMissing } from '../../../tools/stories-fixture.ts'

const skip = storiesMissing() ?? false

let root: string
let home: string
let modelsDir: string
let app: App
let progress: ImportProgress[]
let modelsChanged: number

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-gguf-import-'))
})

after(async () => {
  await rm(root, { recursive: true, force: true })
})

beforeEach(async () => {
  const run = await mkdtemp(path.join(root, 'run-'))
  home = path.join(run, 'home')
  modelsDir = path.join(run, 'models')
  app = await createApp({ shell: 'browser', version: '0.0.0', dataDir: path.join(run, 'data'), modelsDir, discovery: { home } })
  progress = []
  modelsChanged = 0
  app.events.subscribe((event, payload) => {
    if (event === 'importProgress') progress.push(payload as Events['importProgress'])
    if (event === 'modelsChanged') modelsChanged++
  })
})

afterEach(async () => {
  await app.close()
})

/** What the models folder holds, staging included: after a failed or cancelled import, nothing. */
async function leftovers(): Promise<string[]> {
  const top = await readdir(modelsDir).catch(() => [])
  const staged = await readdir(path.join(modelsDir, '.imports')).catch(() => [])
  return [...top.filter((n) => n !== '.imports'), ...staged.map((n) => `.imports/${n}`)]
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<AppError> {
  const err = await promise.then(
    () => assert.fail(`resolved; expected ${code}`),
    (e: unknown) => e,
  )
  assert.ok(err instanceof AppError, String(err))
  assert.equal(err.code, code, err.message)
  return err
}

/** Resolves at the first importProgress event that `test` accepts. */
function progressWhere(test: (p: ImportProgress) => boolean): Promise<ImportProgress> {
  return new Promise((resolve) => {
    const off = app.events.subscribe((event, payload) => {
      if (event === 'importProgress' && test(payload as ImportProgress)) {
        off()
        resolve(payload as ImportProgress)
      }
    })
  })
}

describe('Api#importModel with a GGUF file', { skip }, () => {
  it('converts it, reports every tensor as it goes, and lists the model with what the importer did', async () => {
    const model = await app.api.importModel(STORIES_GGUF, 'copy')
    assert.ok(model.valid, model.valid ? '' : model.reason)
    assert.equal(model.id, 'stories260K')
    assert.equal(model.conversion?.source, 'stories260K.gguf')
    assert.equal(model.conversion?.architecture, 'llama')
    assert.deepEqual((await app.api.listModels()).map((m) => m.id), ['stories260K'])
    assert.ok(modelsChanged >= 1, 'the library did not say it changed')

    const first = progress[0]
    const last = progress.at(-1)
    assert.deepEqual(first, { source: STORIES_GGUF, modelId: 'stories260K', state: 'converting', done: 0, total: 0, error: null })
    assert.ok(last && last.state === 'done' && last.total > 0 && last.done === last.total, JSON.stringify(last))
    const perTensor = progress.slice(1, -1)
    assert.deepEqual(perTensor.map((p) => p.done), Array.from({ length: last.total }, (_, i) => i + 1))
    assert.ok(perTensor.every((p) => p.state === 'converting' && p.total === last.total))
    // The original stays where it was; only the new folder is in the models directory.
    assert.equal((await stat(STORIES_GGUF)).isFile(), true)
    assert.deepEqual(await leftovers(), ['stories260K'])
  })

  it('refuses a second import of a file while one runs, by any spelling of its path, with CONFLICT', async () => {
    const started = progressWhere((p) => p.state === 'converting')
    const running = app.api.importModel(STORIES_GGUF, 'copy')
    await started
    await rejectsWith(app.api.importModel(STORIES_GGUF, 'copy'), 'CONFLICT')
    const relative = path.relative(process.cwd(), STORIES_GGUF)
    await rejectsWith(app.api.importModel(relative, 'link'), 'CONFLICT')
    // Another file that would become a model of the same name collides too.
    const namesake = path.join(root, 'namesake.gguf')
    await copyFile(STORIES_GGUF, namesake)
    const err = await rejectsWith(app.api.importModel(namesake, 'copy', 'stories260K'), 'CONFLICT')
    assert.match(err.message, /being imported already/)
    assert.equal((await running).id, 'stories260K')
    // Once it is done the file may be imported again, and then the folder name is what conflicts.
    const again = await rejectsWith(app.api.importModel(STORIES_GGUF, 'copy'), 'CONFLICT')
    assert.match(again.message, /already in the library/)
  })

  it('ends the conversion on cancelImport and leaves nothing behind', async () => {
    const midway = progressWhere((p) => p.state === 'converting' && p.done >= 1)
    const running = app.api.importModel(STORIES_GGUF, 'copy')
    const { source, done, total } = await midway
    assert.ok(done < total, 'the conversion ended before it could be cancelled')
    await app.api.cancelImport(source)
    await rejectsWith(running, 'CANCELLED')
    assert.equal(progress.at(-1)?.state, 'cancelled')
    assert.deepEqual(await app.api.listModels(), [])
    assert.deepEqual(await leftovers(), [])
    // A cancel with nothing running is not an error: the import may have just ended.
    await app.api.cancelImport(source)
  })

  it('refuses a file that is not a GGUF with IMPORT_INVALID before converting anything', async () => {
    const notes = path.join(root, 'notes.gguf')
    await writeFile(notes, 'not a model at all')
    const err = await rejectsWith(app.api.importModel(notes, 'copy'), 'IMPORT_INVALID')
    assert.match(err.message, /neither a model folder nor a GGUF file/)
    assert.deepEqual(progress, [])
    assert.deepEqual(await leftovers(), [])
  })

  it('reports a conversion that fails, with the error, and leaves nothing behind', async () => {
    const truncated = path.join(root, 'truncated.gguf')
    await writeFile(truncated, (await readFile(STORIES_GGUF)).subarray(0, 4096))
    const err = await rejectsWith(app.api.importModel(truncated, 'copy'), 'IMPORT_INVALID')
    const last = progress.at(-1)
    assert.equal(last?.state, 'failed')
    assert.deepEqual(last?.error, { code: 'IMPORT_INVALID', message: err.message })
    assert.deepEqual(await leftovers(), [])
  })

  it("imports a model found in Ollama's store, whose blob has no extension, under its manifest name", async () => {
    const hex = '4'.repeat(64)
    const store = path.join(home, '.ollama', 'models')
    await mkdir(path.join(store, 'blobs'), { recursive: true })
    await copyFile(STORIES_GGUF, path.join(store, 'blobs', `sha256-${hex}`))
    const tagDir = path.join(store, 'manifests', 'registry.ollama.ai', 'library', 'stories')
    await mkdir(tagDir, { recursive: true })
    await writeFile(path.join(tagDir, '260k'), JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}`, size: 1 }] }))

    const [found, ...more] = await app.api.findGgufModels()
    assert.deepEqual(more, [])
    assert.ok(found)
    assert.deepEqual({ ...found, path: path.basename(found.path) }, { app: 'Ollama', name: 'stories:260k', path: `sha256-${hex}`, bytes: (await stat(STORIES_GGUF)).size, modelId: 'stories-260k' })
    const model = await app.api.importModel(found.path, 'copy', found.name)
    assert.equal(model.id, found.modelId)
    assert.ok(model.valid)
    assert.equal(model.conversion?.source, 'stories:260k', 'the model info names the blob by its hash')
  })
})

describe('Api#importModel with a folder', () => {
  it('still adds a model folder as a folder, linked where it is', async () => {
    const dir = path.join(root, 'tiny-folder')
    await buildModel(dir, { shape: 'tiny', seed: 3 })
    const model = await app.api.importModel(dir, 'link')
    assert.equal(model.id, 'tiny-folder')
    assert.deepEqual(progress, [], 'a folder is not converted')
  })
})

describe('importModel and cancelImport payloads', () => {
  it('refuse an empty model name and a path with a NUL byte', async () => {
    const bad = async (method: 'importModel' | 'cancelImport', args: unknown[]): Promise<void> => {
      const result = await dispatch(app.api, method, args)
      assert.equal(result.ok ? 'ok' : result.error.code, 'BAD_REQUEST', JSON.stringify(args))
    }
    await bad('importModel', ['/models/x.gguf', 'copy', ''])
    await bad('importModel', ['/models/x\0.gguf', 'copy'])
    await bad('cancelImport', [''])
  })
})
