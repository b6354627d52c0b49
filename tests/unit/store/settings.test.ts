import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { AppError } from '../../../src-shared/errors.ts'
import { DEFAULT_SETTINGS } from '../../../src-shared/types.ts'
import { openStore } from '../../../src-main/store/store.ts'
import { olderDb, tempDir, tempStore } from './helpers.ts'

const isBadRequest = (err: unknown) => err instanceof AppError && err.code === 'BAD_REQUEST'

describe('SettingsStore', () => {
  it('reads every default until something is set', (t) => {
    const store = tempStore(t)
    assert.deepEqual(store.settings.all(), DEFAULT_SETTINGS)
    assert.equal(store.settings.get('theme'), 'system')
  })

  it('keeps what is set, typed, across a restart', (t) => {
    const dir = tempDir(t)
    const first = openStore({ dataDir: dir })
    first.settings.set('theme', 'dark')
    first.settings.set('windowBounds', { x: 10, y: 20, width: 800, height: 600, maximized: false })
    first.settings.set('defaultParams', { ...DEFAULT_SETTINGS.defaultParams, temperature: 0, stop: ['</s>'] })
    first.close()
    const second = openStore({ dataDir: dir })
    t.after(() => second.close())
    assert.equal(second.settings.get('theme'), 'dark')
    assert.deepEqual(second.settings.get('windowBounds'), { x: 10, y: 20, width: 800, height: 600, maximized: false })
    assert.equal(second.settings.get('defaultParams').temperature, 0)
    assert.deepEqual(second.settings.all().defaultParams.stop, ['</s>'])
  })

  it('refuses a value of the wrong type and an unknown key', (t) => {
    const store = tempStore(t)
    assert.throws(() => store.settings.set('apiServerPort', 70_000), isBadRequest)
    assert.throws(() => store.settings.set('theme', 'neon' as never), isBadRequest)
    assert.throws(() => store.settings.get('nonsense' as never), isBadRequest)
    assert.equal(store.settings.get('apiServerPort'), DEFAULT_SETTINGS.apiServerPort)
  })

  it('changes all of a patch or none of it', (t) => {
    const store = tempStore(t)
    assert.throws(() => store.settings.update({ theme: 'light', fontSize: -3 }), isBadRequest)
    assert.equal(store.settings.get('theme'), 'system')
    const all = store.settings.update({ theme: 'light', fontSize: 17 })
    assert.deepEqual([all.theme, all.fontSize], ['light', 17])
  })

  it('reads a stored value that no longer fits its type as the default', (t) => {
    const dir = tempDir(t)
    const store = openStore({ dataDir: dir })
    store.close()
    const db = new Database(store.file)
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('fontSize', '"huge"')
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('retiredSetting', '1')
    db.close()
    const reopened = openStore({ dataDir: dir })
    t.after(() => reopened.close())
    assert.equal(reopened.settings.get('fontSize'), DEFAULT_SETTINGS.fontSize)
    assert.deepEqual(reopened.settings.all(), DEFAULT_SETTINGS)
  })

  it('keeps per-model load settings, refusing a context too short for a chat or fields it does not know', (t) => {
    const store = tempStore(t)
    const wanted = { m: { contextLength: 256, variant: 'q4' as const, provider: 'cpu' as const, threads: 2, kvDtype: 'float16' as const }, other: {} }
    store.settings.set('modelLoadSettings', wanted)
    assert.deepEqual(store.settings.get('modelLoadSettings'), wanted)
    assert.throws(() => store.settings.set('modelLoadSettings', { m: { contextLength: 255 } }), /modelLoadSettings.*m\.contextLength: a context under 256 tokens/)
    assert.throws(() => store.settings.set('modelLoadSettings', { m: { kvDtype: 'bfloat16' } } as never), isBadRequest)
    assert.throws(() => store.settings.set('modelLoadSettings', { m: { dtype: 'float16' } } as never), isBadRequest)
    assert.deepEqual(store.settings.get('modelLoadSettings'), wanted)
  })

  it('hands out copies, so changing a returned value changes nothing stored', (t) => {
    const store = tempStore(t)
    store.settings.get('defaultParams').temperature = 0
    assert.deepEqual(DEFAULT_SETTINGS.defaultParams, {})
    store.settings.set('defaultParams', { stop: ['a'] })
    store.settings.get('defaultParams').stop?.push('x')
    assert.deepEqual(store.settings.get('defaultParams'), { stop: ['a'] })
  })

  it("keeps only the default parameters a user changed from a v1 history, which stored them whole", (t) => {
    const dir = tempDir(t)
    const db = olderDb(dir, 1)
    // v1 wrote the app's defaults (penalty 1.1, top-k 40, ...) beside the one value the user changed.
    const v1 = { temperature: 0.3, topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1, maxTokens: 1024, seed: null, stop: [] }
    db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('defaultParams', JSON.stringify(v1))
    db.close()
    const store = openStore({ dataDir: dir })
    t.after(() => store.close())
    assert.deepEqual(store.settings.get('defaultParams'), { temperature: 0.3 })
  })
})
