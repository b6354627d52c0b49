import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cp, lstat, mkdir, mkdtemp, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import { estimateMemory } from '../../../src-main/model-format/memory-estimate.ts'
import { inspectModelFolder } from '../../../src-main/model-format/model-folder.ts'
import { createModelLibrary, type ModelLibrary } from '../../../src-main/models/library.ts'
import { buildModel } from '../../../tools/model-builder/build-model.ts'

let root: string
let template: string
let work: string
let library: ModelLibrary

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-library-'))
  template = path.join(root, 'template')
  await buildModel(template, { q4: true })
})

after(async () => {
  await rm(root, { recursive: true, force: true })
})

beforeEach(async () => {
  work = await mkdtemp(path.join(root, 'case-'))
  library = createModelLibrary({ modelsDir: path.join(work, 'models') })
})

/** A copy of the built model at dir (two variants: fp32 and q4, each with external data). */
async function model(dir: string): Promise<string> {
  await cp(template, dir, { recursive: true })
  return dir
}

/**
 * A Hugging Face cache entry as huggingface_hub writes it: models--org--tiny/blobs/<name> and
 * snapshots/abc123/<path>, a relative link into the blobs. Returns the snapshot folder.
 */
async function cacheSnapshot(): Promise<string> {
  const repo = path.join(work, 'hub', 'models--org--tiny')
  const snapshot = path.join(repo, 'snapshots', 'abc123')
  await mkdir(path.join(repo, 'blobs'), { recursive: true })
  await mkdir(path.join(repo, 'refs'))
  await writeFile(path.join(repo, 'refs', 'main'), 'abc123')
  await mkdir(path.join(snapshot, 'onnx'), { recursive: true })
  for (const file of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data']) {
    const blob = file.replace('/', '-')
    await cp(path.join(template, file), path.join(repo, 'blobs', blob))
    const up = file.includes('/') ? ['..', '..', '..'] : ['..', '..']
    await symlink(path.join(...up, 'blobs', blob), path.join(snapshot, file))
  }
  return snapshot
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

async function bytesOf(...files: string[]): Promise<number> {
  let total = 0
  for (const f of files) total += (await stat(f)).size
  return total
}

describe('ModelLibrary#list', () => {
  it('lists valid models with their facts and invalid folders with the reason, skipping dot folders', async () => {
    const models = path.join(work, 'models')
    await model(path.join(models, 'good'))
    await mkdir(path.join(models, 'empty'))
    await mkdir(path.join(models, '.downloads', 'x@q4'), { recursive: true })

    const list = await library.list()

    assert.deepEqual(list.map((m) => [m.id, m.valid]), [['empty', false], ['good', true]])
    const [empty, good] = list
    assert.ok(empty && !empty.valid)
    assert.match(empty.reason, /config\.json is missing/)
    assert.ok(good?.valid)
    assert.deepEqual(good.variants.map((v) => v.name).sort(), ['fp32', 'q4'])
  })

  it('is empty when the models folder does not exist yet', async () => {
    assert.deepEqual(await library.list(), [])
  })
})

describe('ModelLibrary#import', () => {
  it('copies the model and leaves other weight formats and .git behind', async () => {
    const src = await model(path.join(work, 'My Model'))
    await writeFile(path.join(src, 'model.safetensors'), 'weights in another format')
    await mkdir(path.join(src, '.git'))

    const imported = await library.import(src)

    assert.ok(imported.valid)
    assert.equal(imported.id, 'My Model')
    const dest = path.join(work, 'models', 'My Model')
    assert.ok((await lstat(dest)).isDirectory())
    assert.deepEqual((await readdir(dest)).sort(), ['config.json', 'generation_config.json', 'onnx', 'tokenizer.json', 'tokenizer_config.json'])
    assert.deepEqual(await readdir(path.join(work, 'models', '.imports')), [])
  })

  it('copies links to files inside the folder as the files they point to', async () => {
    const src = await model(path.join(work, 'tidy'))
    await mkdir(path.join(src, 'originals'))
    await rename(path.join(src, 'tokenizer.json'), path.join(src, 'originals', 'tokenizer.json'))
    await symlink(path.join('originals', 'tokenizer.json'), path.join(src, 'tokenizer.json'))

    const imported = await library.import(src)

    assert.ok(imported.valid)
    assert.ok((await lstat(path.join(work, 'models', 'tidy', 'tokenizer.json'))).isFile(), 'a real file, not a link')
  })

  it("follows a Hugging Face cache snapshot's links into its repository's blobs", async () => {
    const snapshot = await cacheSnapshot()
    const imported = await library.import(snapshot)
    assert.ok(imported.valid)
    const copied = path.join(work, 'models', 'abc123', 'onnx', 'model_q4.onnx_data')
    assert.ok((await lstat(copied)).isFile(), 'a real file, not a link into the cache')
  })

  it("refuses a cache snapshot's link that leaves the blobs, naming it", async () => {
    const snapshot = await cacheSnapshot()
    await symlink(path.join('..', '..', 'refs', 'main'), path.join(snapshot, 'ref.txt'))
    await assert.rejects(library.import(snapshot), {
      code: 'IMPORT_INVALID',
      message: new RegExp(`^ref\\.txt in ${escape(snapshot)} is a link to ${escape(path.join(path.dirname(path.dirname(snapshot)), 'refs', 'main'))}, outside the folder`),
    })
  })

  it('refuses a link to a file outside the folder, naming it, and copies nothing', async () => {
    const secret = path.join(work, 'secret.txt')
    await writeFile(secret, 'not for the models folder')
    const src = await model(path.join(work, 'leaky'))
    await symlink(secret, path.join(src, 'notes.txt'))

    await assert.rejects(library.import(src), {
      code: 'IMPORT_INVALID',
      message: `notes.txt in ${src} is a link to ${secret}, outside the folder; Hearth copies only links to files inside the folder being imported`,
    })
    assert.deepEqual(await readdir(path.join(work, 'models')).catch(() => []), [])
  })

  it('refuses a relative link that climbs out with ../.., naming it', async () => {
    await mkdir(path.join(work, 'outside'))
    const src = await model(path.join(work, 'climber'))
    await symlink(path.join('..', '..', 'outside'), path.join(src, 'onnx', 'extra'))

    await assert.rejects(library.import(src), {
      code: 'IMPORT_INVALID',
      message: new RegExp(`^onnx/extra in ${escape(src)} is a link to ${escape(path.join(work, 'outside'))}, outside the folder`),
    })
    assert.deepEqual(await readdir(path.join(work, 'models')).catch(() => []), [])
  })

  it('refuses links that loop, naming the first', async () => {
    const src = await model(path.join(work, 'loopy'))
    await symlink('b.json', path.join(src, 'a.json'))
    await symlink('a.json', path.join(src, 'b.json'))
    await assert.rejects(library.import(src), { code: 'IMPORT_INVALID', message: `a.json in ${src} is a link that loops` })
  })

  it('refuses a link to a folder, which could loop back on itself', async () => {
    const src = await model(path.join(work, 'circle'))
    await symlink('..', path.join(src, 'onnx', 'up'))
    await assert.rejects(library.import(src), {
      code: 'IMPORT_INVALID',
      message: `onnx/up in ${src} is a link to a folder; Hearth copies only links to files`,
    })
  })

  it('refuses what is neither a file nor a folder, such as a named pipe', { skip: process.platform === 'win32' }, async () => {
    const src = await model(path.join(work, 'piped'))
    execFileSync('mkfifo', [path.join(src, 'pipe')])
    await assert.rejects(library.import(src), { code: 'IMPORT_INVALID', message: `pipe in ${src} is not a regular file` })
  })

  it('links the folder in place when asked, and removing it deletes only the link', async () => {
    const src = await model(path.join(work, 'linked'))
    const imported = await library.import(src, 'link')
    assert.ok(imported.valid)
    assert.ok((await lstat(path.join(work, 'models', 'linked'))).isSymbolicLink())
    assert.equal((await library.list()).length, 1)

    await assert.rejects(library.remove('linked', 'q4'), { code: 'CONFLICT' })
    assert.deepEqual(await library.remove('linked'), { bytesFreed: 0, removedModel: true })
    assert.ok((await stat(path.join(src, 'onnx', 'model_q4.onnx'))).isFile(), 'the source folder is untouched')
  })

  it('refuses an invalid folder with the reason, and a name already taken', async () => {
    const bad = path.join(work, 'bad')
    await mkdir(bad)
    await writeFile(path.join(bad, 'config.json'), '{}')
    await assert.rejects(library.import(bad), { code: 'IMPORT_INVALID', message: /bad is not a model Hearth can run: config\.json lacks/ })
    assert.deepEqual(await library.list(), [])

    const src = await model(path.join(work, 'twice'))
    await library.import(src)
    await assert.rejects(library.import(src, 'link'), { code: 'CONFLICT', message: /"twice" is already in the library/ })
  })
})

describe('ModelLibrary#remove', () => {
  it('removes one variant with its external data and reports the bytes freed', async () => {
    const dir = await model(path.join(work, 'models', 'm'))
    const expected = await bytesOf(path.join(dir, 'onnx', 'model_q4.onnx'), path.join(dir, 'onnx', 'model_q4.onnx_data'))

    const result = await library.remove('m', 'q4')

    assert.deepEqual(result, { bytesFreed: expected, removedModel: false })
    assert.deepEqual((await readdir(path.join(dir, 'onnx'))).sort(), ['model.onnx', 'model.onnx_data'])
    const after = await library.get('m')
    assert.ok(after.valid)
    assert.deepEqual(after.variants.map((v) => v.name), ['fp32'])
  })

  it('removes the whole model when its last variant goes, counting every file', async () => {
    const dir = await model(path.join(work, 'models', 'm'))
    await library.remove('m', 'q4')
    const everything = await bytesOf(
      ...['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'onnx/model.onnx_data'].map((f) => path.join(dir, f)),
    )

    assert.deepEqual(await library.remove('m', 'fp32'), { bytesFreed: everything, removedModel: true })
    assert.deepEqual(await library.list(), [])
  })

  it('names what is missing and refuses ids that leave the models folder', async () => {
    await model(path.join(work, 'models', 'm'))
    await assert.rejects(library.remove('nope'), { code: 'NOT_FOUND' })
    await assert.rejects(library.remove('m', 'bnb4'), { code: 'NOT_FOUND', message: '"m" has no bnb4 variant (it has: fp32, q4)' })
    await assert.rejects(library.remove('../m'), { code: 'BAD_REQUEST' })
    await assert.rejects(library.remove('.downloads'), { code: 'BAD_REQUEST' })
  })
})

describe('ModelLibrary#fit', () => {
  it('judges a listed model against the memory it is given', async () => {
    await model(path.join(work, 'models', 'm'))
    const roomy = await library.fit('m', { memory: { totalRam: 16e9, availableRam: 8e9, gpuMemory: null } })
    assert.equal(roomy.chosen.verdict, 'fits')
    assert.equal(roomy.chosen.variant, 'q4')
    assert.equal(roomy.chosen.context, 2048)
    // The same bytes the engine's MODEL_TOO_BIG check counts, loading copy of the .onnx included.
    const summary = await library.get('m')
    const q4 = summary.valid ? summary.variants.find((v) => v.name === 'q4') : undefined
    assert.ok(summary.valid && q4)
    const onnxFileBytes = (await stat(path.join(summary.dir, q4.file))).size
    assert.equal(roomy.chosen.totalBytes, estimateMemory(summary, q4, { context: 2048, provider: 'cpu', onnxFileBytes }).totalBytes)

    const cramped = await library.fit('m', { memory: { totalRam: 200e6, availableRam: 100e6, gpuMemory: null } })
    assert.equal(cramped.chosen.verdict, 'wont-fit')
  })

  it('judges a variant whose .onnx is gone by the time it is sized, its loading bytes unknown', async () => {
    const summary = await inspectModelFolder(await model(path.join(work, 'models', 'm')))
    const q4 = summary.valid ? summary.variants.find((v) => v.name === 'q4') : undefined
    assert.ok(summary.valid && q4)
    // The file goes between reading the folder and sizing it, as when a remove runs alongside.
    const racing = createModelLibrary({
      modelsDir: path.join(work, 'models'),
      inspect: async () => {
        await rm(path.join(summary.dir, q4.file), { force: true })
        return summary
      },
    })

    const fit = await racing.fit('m', { memory: { totalRam: 16e9, availableRam: 8e9, gpuMemory: null }, variant: 'q4' })
    assert.equal(fit.chosen.totalBytes, estimateMemory(summary, q4, { context: 2048, provider: 'cpu' }).totalBytes)
  })
})
