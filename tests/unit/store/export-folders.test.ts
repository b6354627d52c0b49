// Folders in the JSON export (format version 4): carried by a whole history's file with each
// conversation's folder, merged by id on import without changing a folder already here, and files
// of earlier versions still read.

import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import type { Folder } from '../../../src-shared/types.ts'
import { HEARTH_EXPORT_VERSION } from '../../../src-main/store/export.ts'
import type { Store } from '../../../src-main/store/store.ts'
import { tempStore } from './helpers.ts'

/** Each conversation's title with its folder's name (null: unfiled), by title. */
function filing(store: Store): [string, string | null][] {
  const names = new Map(store.folders.list().map((f) => [f.id, f.name]))
  return [...store.conversations.list({ archived: false }), ...store.conversations.list({ archived: true })]
    .map((c): [string, string | null] => [c.title, c.folderId === null ? null : (names.get(c.folderId) ?? 'missing')])
    .sort(([a], [b]) => a.localeCompare(b))
}

/** Two folders (the second made first, then moved), one collapsed with a default preset; a chat in each, one archived, one unfiled. */
function filedHistory(store: Store): void {
  const presetId = randomUUID()
  store.settings.update({ presets: [{ id: presetId, name: 'Terse', systemPrompt: 'Be brief.', params: {}, modelId: null, contextPolicy: null, toolServers: [] }] })
  const work = store.folders.create('Work')
  const home = store.folders.create('Home')
  store.folders.update(home.id, { position: 0, collapsed: true, defaultPresetId: presetId })
  store.conversations.create({ title: 'Budget', folderId: work.id })
  const old = store.conversations.create({ title: 'Old trip', folderId: home.id })
  store.conversations.update(old.id, { archived: true })
  store.conversations.create({ title: 'Loose' })
}

describe('Store JSON export with folders', () => {
  it('carries the folders and each chat\'s folder, and imports them back as they were', async (t) => {
    const source = tempStore(t)
    filedHistory(source)
    const file = JSON.parse(source.exportText('json')) as { version: number; folders: Folder[]; conversations: { folderId: string | null }[] }
    assert.equal(file.version, HEARTH_EXPORT_VERSION)
    assert.deepEqual(file.folders, source.folders.list())

    const target = tempStore(t)
    const result = await target.importText(source.exportText('json'), 'history.json')
    assert.equal(result.folders, 2)
    assert.deepEqual(target.folders.list(), source.folders.list())
    assert.deepEqual(filing(target), [['Budget', 'Work'], ['Loose', null], ['Old trip', 'Home']])
    assert.equal(target.folders.list()[0]!.defaultPresetId, target.settings.get('presets')[0]!.id)
  })

  it('keeps a folder already here as it is, adds the others after the folders here, and adds none twice', async (t) => {
    const source = tempStore(t)
    filedHistory(source)
    const json = source.exportText('json')
    const [home, work] = source.folders.list()

    const target = tempStore(t)
    const mine = target.folders.create('Mine')
    const first = await target.importText(json, 'history.json')
    assert.equal(first.folders, 2)
    target.folders.update(work!.id, { name: 'Office', position: 0 })
    const second = await target.importText(json, 'history.json')
    assert.equal(second.folders, 0)
    assert.deepEqual(target.folders.list().map((f) => [f.id, f.name]), [[work!.id, 'Office'], [mine.id, 'Mine'], [home!.id, 'Home']])
    assert.deepEqual(filing(target), [['Budget', 'Office'], ['Budget', 'Office'], ['Loose', null], ['Loose', null], ['Old trip', 'Home'], ['Old trip', 'Home']])
  })

  it('files one conversation\'s export back into its folder when that folder is here, else leaves it unfiled', async (t) => {
    const store = tempStore(t)
    const folder = store.folders.create('Work')
    const c = store.conversations.create({ title: 'Plan', folderId: folder.id })
    const one = store.exportText('json', [c.id])
    assert.deepEqual((JSON.parse(one) as { folders: unknown[] }).folders, [])
    const again = await store.importText(one, 'plan.json')
    assert.equal(store.conversations.get(again.conversationIds[0]!).folderId, folder.id)

    const elsewhere = tempStore(t)
    const result = await elsewhere.importText(one, 'plan.json')
    assert.equal(elsewhere.conversations.get(result.conversationIds[0]!).folderId, null)
  })

  it('reads a version 3 file, which has no folders, its chats unfiled', async (t) => {
    const source = tempStore(t)
    filedHistory(source)
    const file = JSON.parse(source.exportText('json')) as Record<string, unknown> & { conversations: Record<string, unknown>[] }
    file['version'] = 3
    delete file['folders']
    for (const c of file.conversations) delete c['folderId']
    const target = tempStore(t)
    const result = await target.importText(JSON.stringify(file), 'old.json')
    assert.deepEqual([result.conversationIds.length, result.folders], [3, 0])
    assert.deepEqual(target.folders.list(), [])
    assert.deepEqual(filing(target), [['Budget', null], ['Loose', null], ['Old trip', null]])
  })

  it('refuses a file whose folders are malformed or repeated, and imports nothing', async (t) => {
    const source = tempStore(t)
    filedHistory(source)
    const file = JSON.parse(source.exportText('json')) as { folders: Record<string, unknown>[] }
    const target = tempStore(t)
    const refused = (pattern: RegExp) => (err: unknown) => err instanceof AppError && err.code === 'IMPORT_INVALID' && pattern.test(err.message)

    const blank = structuredClone(file)
    blank.folders[0]!['name'] = ' '
    await assert.rejects(target.importText(JSON.stringify(blank), 'blank.json'), refused(/folders/))
    const twice = structuredClone(file)
    twice.folders[1]!['id'] = twice.folders[0]!['id']
    await assert.rejects(target.importText(JSON.stringify(twice), 'twice.json'), refused(/appears twice/))
    assert.deepEqual([target.conversations.list().length, target.folders.list().length], [0, 0])
  })
})
