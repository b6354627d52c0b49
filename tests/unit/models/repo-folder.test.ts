import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkRepoId } from '../../../src-main/models/hub.ts'
import { modelIdForRepo } from '../../../src-main/models/repo-folder.ts'

/** Every repository id checkRepoId accepts whose parts are up to `length` of a, b, '-' and '.'. */
function trickyIds(length: number): string[] {
  let parts = ['']
  const all: string[] = []
  for (let n = 1; n <= length; n++) {
    parts = parts.flatMap((p) => ['a', 'b', '-', '.'].map((c) => p + c))
    all.push(...parts)
  }
  const ids = [...all, ...all.flatMap((owner) => all.map((name) => `${owner}/${name}`))]
  return ids.filter((id) => {
    try {
      checkRepoId(id)
      return true
    } catch {
      return false
    }
  })
}

describe('modelIdForRepo', () => {
  it('keeps the names Hearth has always given Hub repositories', () => {
    assert.equal(modelIdForRepo('HuggingFaceTB/SmolLM2-135M-Instruct'), 'HuggingFaceTB--SmolLM2-135M-Instruct')
    assert.equal(modelIdForRepo('onnx-community/Qwen2.5-0.5B-Instruct'), 'onnx-community--Qwen2.5-0.5B-Instruct')
    assert.equal(modelIdForRepo('a/b--c'), 'a--b--c')
    assert.equal(modelIdForRepo('gpt2'), 'gpt2')
  })

  it('gives ids that would read back two ways a name of their own', () => {
    assert.equal(modelIdForRepo('a--b/c'), '+a--b+c')
    assert.equal(modelIdForRepo('a-/b'), '+a-+b')
    assert.equal(modelIdForRepo('a--b'), '+a--b')
    assert.equal(modelIdForRepo('.downloads'), '+.downloads')
  })

  it('maps no two repository ids to one folder, and none to a dot folder or a path', () => {
    const ids = trickyIds(4)
    const seen = new Map<string, string>()
    for (const id of ids) {
      const folder = modelIdForRepo(id)
      assert.equal(seen.get(folder), undefined, `${id} and ${seen.get(folder)} both map to ${folder}`)
      seen.set(folder, id)
      assert.ok(!folder.startsWith('.') && !/[/\\]/.test(folder), `${id} maps to ${folder}`)
    }
    assert.ok(seen.size > 10_000, `${seen.size} ids`)
  })
})
