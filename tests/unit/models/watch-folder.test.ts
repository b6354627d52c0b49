// watchModelsFolder: a burst of changes is one report, after the folder goes quiet; staging in
// dot folders is not reported; a missing folder is created.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { isModelChange, watchModelsFolder } from '../../../src-main/models/watch-folder.ts'

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-watch-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('watchModelsFolder', () => {
  it('counts changes in model folders, not in the dot folders downloads and imports stage in', () => {
    assert.equal(isModelChange('copied/onnx/model.onnx'), true)
    assert.equal(isModelChange('copied'), true)
    assert.equal(isModelChange(null), true)
    assert.equal(isModelChange('.imports/job/model.onnx'), false)
    assert.equal(isModelChange(path.join('.downloads', 'x')), false)
  })

  it('creates the folder, and reports a burst of writes in a new model folder once', async () => {
    const dir = path.join(root, 'models')
    let reports = 0
    let reported = (): void => undefined
    const watch = await watchModelsFolder(dir, () => {
      reports++
      reported()
    }, 100)
    try {
      assert.ok((await stat(dir)).isDirectory())
      const next = (): Promise<void> => new Promise((resolve) => (reported = resolve))
      let report = next()
      // Staging in a dot folder first: it is not reported, so the burst after it is the first report.
      await mkdir(path.join(dir, '.imports', 'job'), { recursive: true })
      await writeFile(path.join(dir, '.imports', 'job', 'model.onnx'), 'x')
      await mkdir(path.join(dir, 'copied', 'onnx'), { recursive: true })
      for (const name of ['config.json', 'tokenizer.json', 'onnx/model.onnx']) await writeFile(path.join(dir, 'copied', name), '{}')
      await report
      assert.equal(reports, 1)
      report = next()
      await rm(path.join(dir, 'copied'), { recursive: true })
      await report
      assert.equal(reports, 2)
    } finally {
      watch.close()
    }
  })
})
