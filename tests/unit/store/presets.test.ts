// Presets in Settings: checked as they are saved, carried by a whole history's export (not by one
// conversation's), and added by an import without replacing the ones already here.

import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { AppError } from '../../../src-shared/errors.ts'
import type { Preset } from '../../../src-shared/types.ts'
import { tempStore } from './helpers.ts'

const preset = (name: string, fields: Partial<Preset> = {}): Preset => ({
  id: randomUUID(),
  name,
  systemPrompt: `You are ${name}.`,
  params: { temperature: 0.2 },
  modelId: null,
  contextPolicy: null,
  toolServers: [],
  ...fields,
})

describe('Presets', () => {
  it('are kept in order as saved, and a bad one changes nothing', (t) => {
    const store = tempStore(t)
    const coder = preset('Coder', { toolServers: ['calc'], contextPolicy: 'truncate-middle' })
    store.settings.update({ presets: [coder, preset('Translator')] })
    assert.deepEqual(store.settings.get('presets').map((p) => p.name), ['Coder', 'Translator'])
    assert.deepEqual(store.settings.get('presets')[0], coder)
    const refused = (presets: unknown) => assert.throws(() => store.settings.update({ presets: presets as Preset[] }), (err: unknown) => err instanceof AppError && err.code === 'BAD_REQUEST')
    refused([preset('  ')])
    refused([coder, { ...preset('Again'), id: coder.id }])
    refused([{ ...preset('Hot'), params: { temperature: -1 } }])
    refused([{ ...preset('Path'), modelId: '../outside' }])
    assert.equal(store.settings.get('presets').length, 2)
  })

  it('go with a whole history’s export and come back with its import, without replacing those already here', async (t) => {
    const from = tempStore(t)
    const shared = preset('Shared')
    const theirs = preset('Theirs', { params: { maxTokens: 99 } })
    from.settings.update({ presets: [shared, theirs] })
    from.conversations.create({ title: 'a chat' })
    const whole = JSON.parse(from.exportText('json')) as { presets: Preset[] }
    assert.deepEqual(whole.presets, [shared, theirs])
    const one = JSON.parse(from.exportText('json', [from.conversations.list()[0]!.id])) as { presets: Preset[] }
    assert.deepEqual(one.presets, [])

    const to = tempStore(t)
    const mine = { ...shared, name: 'Shared, edited here' }
    to.settings.update({ presets: [mine] })
    const result = await to.importText(JSON.stringify(whole), 'export.json')
    assert.equal(result.presets, 1)
    assert.deepEqual(to.settings.get('presets'), [mine, theirs])
  })

  it('refuses a file with a broken preset, importing nothing', async (t) => {
    const from = tempStore(t)
    from.settings.update({ presets: [preset('Fine')] })
    from.conversations.create({ title: 'kept out' })
    const file = JSON.parse(from.exportText('json')) as { presets: Record<string, unknown>[] }
    file.presets[0]!['name'] = ''
    const to = tempStore(t)
    await assert.rejects(to.importText(JSON.stringify(file), 'broken.json'), (err: unknown) => err instanceof AppError && err.code === 'IMPORT_INVALID' && /presets/.test(err.message))
    assert.deepEqual([to.conversations.list().length, to.settings.get('presets').length], [0, 0])
  })
})
