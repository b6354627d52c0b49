// `npm run models -- import FILE.gguf` with the trained stories260K fixture, converted in the
// importer's own process: the summary it prints, the folder it lists, and a truncated file that
// fails and leaves nothing behind.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { CONVERSION_FILE } from '../../../src-main/model-format/model-folder.ts'
import { createModelLibrary } from '../../../src-main/models/library.ts'
import { STORIES_GGUF, storiesMissing } from '../../../tools/stories-fixture.ts'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const skip = storiesMissing() ?? false
let root = ''
/** The first 5000 bytes of the fixture: the file ends inside its vocabulary. */
let truncated = ''

before(async () => {
  if (skip) return
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-cli-gguf-'))
  truncated = path.join(root, 'stories260K-cut.gguf')
  await writeFile(truncated, (await readFile(STORIES_GGUF)).subarray(0, 5000))
})
after(() => root && rm(root, { recursive: true, force: true }))

/** Runs `npm run models -- …` as a user would, without npm in between. */
function models(modelsDir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'tools/models.ts', ...args, '--models-dir', modelsDir], { cwd: repoRoot }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

/** Every path under `dir`, relative to it; empty when it does not exist. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }).catch(() => [])).sort()
}

describe('npm run models -- import FILE.gguf', () => {
  it('converts stories260K, prints what the conversion did, and lists it as valid with that record', { skip }, async () => {
    const modelsDir = path.join(root, 'models')
    const imported = await models(modelsDir, 'import', STORIES_GGUF)
    assert.equal(imported.code, 0, imported.stderr)
    assert.match(imported.stdout, /^converting stories260K\.gguf: 48\/48 tensors$/m)
    assert.match(imported.stdout, /^Converted stories260K\.gguf into stories260K in /m)
    assert.match(imported.stdout, /^ {2}from llama GGUF \(48 F32\) as fp32: 36 float, 0 carried over exactly, 0 requantized$/m)
    assert.match(imported.stdout, /^ {2}note: The GGUF has no chat template/m)

    const list = await models(modelsDir, 'list')
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, /^stories260K {2}llama, \d+K params, 2048 context {2}\[fp32 1\.2 MB\]$/m)
    const [summary] = await createModelLibrary({ modelsDir }).list()
    assert.ok(summary?.valid, summary && !summary.valid ? summary.reason : 'no model listed')
    assert.equal(summary.id, 'stories260K')
    assert.deepEqual(summary.conversion, JSON.parse(await readFile(path.join(modelsDir, 'stories260K', CONVERSION_FILE), 'utf8')))
    assert.equal(summary.conversion?.architecture, 'llama')
    assert.equal(summary.conversion?.floatTensors, 36)

    // A truncated file next to it: refused, and the library holds what it held before.
    const before = await tree(modelsDir)
    const cut = await models(modelsDir, 'import', truncated)
    assert.equal(cut.code, 1)
    assert.match(cut.stderr, /^error: .*stories260K-cut\.gguf: truncated: /m)
    assert.deepEqual(await tree(modelsDir), before)
    assert.deepEqual(await tree(path.join(modelsDir, '.imports')), [])
  })

  it('refuses a truncated file with IMPORT_INVALID and creates nothing in an empty models folder', { skip }, async () => {
    const modelsDir = path.join(root, 'empty')
    // The code the app shows, from the same conversion process the command line starts.
    await assert.rejects(createModelLibrary({ modelsDir }).importGguf(truncated), (err: { code: string; message: string }) => {
      assert.equal(err.code, 'IMPORT_INVALID')
      assert.match(err.message, /truncated: .* runs past the end of the file \(5000 bytes\)/)
      return true
    })
    assert.deepEqual(await tree(modelsDir), [])
  })
})
