// Folders through the Api: every window hears of a change, deleting one says which chats it
// unfiled, a new chat can start in one, and payloads that would corrupt one never reach the store.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { API_METHODS, type Api, type ApiMethod } from '../../../src-shared/api.ts'
import { createApp, type App } from '../../../src-main/app/app.ts'
import { dispatch } from '../../../src-main/app/dispatch.ts'
import { named, type Recorded } from './app-events.ts'
import { ScriptedEngine } from './scripted-engine.ts'

let root: string
let app: App
let events: Recorded

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'hearth-folders-'))
  app = await createApp({ shell: 'browser', version: '0.0.0', dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models'), engine: new ScriptedEngine() })
  events = []
  app.events.subscribe((name, payload) => events.push({ name, payload }))
})

afterEach(async () => {
  app.close()
  await rm(root, { recursive: true, force: true })
})

describe('Api folders', () => {
  it('tells every window the folders as they are after each change', async () => {
    const work = await app.api.createFolder('Work')
    const home = await app.api.createFolder('Home')
    await app.api.updateFolder(home.id, { position: 0, collapsed: true })
    const lists = named(events, 'foldersChanged').map((e) => e.folders.map((f) => [f.name, f.position, f.collapsed]))
    assert.deepEqual(lists, [
      [['Work', 0, false]],
      [['Work', 0, false], ['Home', 1, false]],
      [['Home', 0, true], ['Work', 1, false]],
    ])
    assert.deepEqual((await app.api.listFolders()).map((f) => f.id), [home.id, work.id])
  })

  it('deletes a folder keeping its chats, each announced unfiled', async () => {
    const folder = await app.api.createFolder('Work')
    const inside = await app.api.createConversation({ title: 'Inside', folderId: folder.id })
    await app.api.createConversation({ title: 'Outside' })
    events.length = 0
    await app.api.deleteFolder(folder.id)
    assert.deepEqual(named(events, 'foldersChanged'), [{ folders: [] }])
    assert.deepEqual(named(events, 'conversationChanged').map((e) => [e.conversationId, e.conversation?.folderId]), [[inside.id, null]])
    assert.deepEqual((await app.api.listConversations()).map((c) => [c.title, c.folderId]).sort(), [['Inside', null], ['Outside', null]])
  })

  it('undoes a folder\'s deletion, announcing the folder and each chat filed in it again', async () => {
    const folder = await app.api.createFolder('Work')
    const inside = await app.api.createConversation({ title: 'Inside', folderId: folder.id })
    await app.api.deleteFolder(folder.id)
    events.length = 0
    assert.deepEqual(await app.api.undoDeleteFolder(folder.id), folder)
    assert.deepEqual(named(events, 'foldersChanged'), [{ folders: [folder] }])
    assert.deepEqual(named(events, 'conversationChanged').map((e) => [e.conversationId, e.conversation?.folderId]), [[inside.id, folder.id]])
  })

  it('previews a new chat in the folder it was started in', async () => {
    const folder = await app.api.createFolder('Work')
    const { conversation } = await app.api.previewConversation({ folderId: folder.id, systemPrompt: 'Be brief.' })
    assert.deepEqual([conversation.folderId, conversation.systemPrompt], [folder.id, 'Be brief.'])
  })

  it('refuses a blank name, an unknown field and a folder id that is not one, before the store', async () => {
    const reached: ApiMethod[] = []
    const recording = Object.fromEntries(API_METHODS.map((m) => [m, async () => void reached.push(m)])) as unknown as Api
    for (const [method, args] of [
      ['createFolder', ['   ']],
      ['updateFolder', ['0f8fad5b-d9cb-469f-a165-70867728950e', { color: 'red' }]],
      ['updateFolder', ['0f8fad5b-d9cb-469f-a165-70867728950e', { position: -1 }]],
      ['search', ['word', 10, 'not-a-folder']],
      ['createConversation', [{ folderId: 'not-a-folder' }]],
    ] as const) {
      const result = await dispatch(recording, method, args)
      assert.equal(result.ok, false, `${method}(${JSON.stringify(args)}) was accepted`)
    }
    assert.deepEqual(reached, [])
    await dispatch(recording, 'search', ['word', 10, '0f8fad5b-d9cb-469f-a165-70867728950e'])
    await dispatch(recording, 'updateFolder', ['0f8fad5b-d9cb-469f-a165-70867728950e', { name: 'Work', defaultPresetId: null }])
    assert.deepEqual(reached, ['search', 'updateFolder'])
  })
})
