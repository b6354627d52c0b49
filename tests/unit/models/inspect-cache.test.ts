// cachedInspect: a folder is inspected again only when what inspecting reads has changed.

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { ModelSummary } from '../../../src-shared/types.ts'
import { cachedInspect } from '../../../src-main/models/inspect-cache.ts'

let root: string
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-inspect-cache-'))
})
after(async () => {
  await rm(root, { recursive: true, force: true })
})

/** An inspect that counts its calls and answers with the call's number in the reason. */
function counting(): { inspect: (dir: string) => Promise<ModelSummary>; calls: string[] } {
  const calls: string[] = []
  const inspect = async (dir: string): Promise<ModelSummary> => {
    calls.push(dir)
    return { valid: false, id: path.basename(dir), name: path.basename(dir), dir, reason: `call ${calls.length}` }
  }
  return { inspect, calls }
}

async function folder(name: string): Promise<string> {
  const dir = path.join(root, name)
  await mkdir(path.join(dir, 'onnx'), { recursive: true })
  await writeFile(path.join(dir, 'config.json'), '{"a":1}')
  await writeFile(path.join(dir, 'onnx', 'model.onnx'), 'weights')
  return dir
}

describe('cachedInspect', () => {
  it('answers an unchanged folder from the last inspection', async () => {
    const dir = await folder('same')
    const { inspect, calls } = counting()
    const cached = cachedInspect(inspect)
    const first = await cached(dir)
    assert.equal(await cached(dir), first)
    assert.equal(calls.length, 1)
  })

  it('inspects again when a file is rewritten, touched, added or removed, here or in onnx/', async () => {
    const dir = await folder('changing')
    const { inspect, calls } = counting()
    const cached = cachedInspect(inspect)
    await cached(dir)
    const changes: [string, () => Promise<unknown>][] = [
      ['config.json rewritten', () => writeFile(path.join(dir, 'config.json'), '{"a":22}')],
      ['config.json touched', () => utimes(path.join(dir, 'config.json'), new Date(2001, 1, 1), new Date(2001, 1, 1))],
      ['a file added', () => writeFile(path.join(dir, 'tokenizer.json'), '{}')],
      ['an onnx file added', () => writeFile(path.join(dir, 'onnx', 'model_q4.onnx'), 'q4')],
      ['an onnx file removed', () => rm(path.join(dir, 'onnx', 'model_q4.onnx'))],
      ['the onnx folder removed', () => rm(path.join(dir, 'onnx'), { recursive: true })],
    ]
    for (const [what, change] of changes) {
      const before = calls.length
      await change()
      const summary = await cached(dir)
      assert.equal(calls.length, before + 1, what)
      assert.equal(summary.valid ? '' : summary.reason, `call ${calls.length}`, what)
      await cached(dir)
      assert.equal(calls.length, before + 1, `${what}, then unchanged`)
    }
  })

  it('keeps folders apart and never caches one it cannot read', async () => {
    const a = await folder('a')
    const b = await folder('b')
    const { inspect, calls } = counting()
    const cached = cachedInspect(inspect)
    assert.equal((await cached(a)).dir, a)
    assert.equal((await cached(b)).dir, b)
    assert.equal((await cached(a)).dir, a)
    assert.equal(calls.length, 2)
    const missing = path.join(root, 'missing')
    await cached(missing)
    await cached(missing)
    assert.equal(calls.length, 4)
  })
})
