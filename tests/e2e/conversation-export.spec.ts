// One conversation out as a file, from its settings panel, in Markdown or JSON.

import { readFile } from 'node:fs/promises'
import { hearthExport } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { importConversations, openConversation } from './ui.ts'

test('exports the open conversation alone, as Markdown and as JSON', async ({ app }) => {
  await importConversations(
    app,
    hearthExport([
      { title: 'Tide tables', messages: [{ role: 'user', content: 'When is high tide?' }, { role: 'assistant', content: 'At noon.' }] },
      { title: 'Other chat', messages: [{ role: 'user', content: 'Unrelated' }] },
    ]),
  )
  await openConversation(app, 'Tide tables')
  await app.getByRole('button', { name: 'Conversation settings' }).click()
  const panel = app.getByTestId('conversation-panel')
  for (const format of ['Markdown', 'JSON'] as const) {
    const download = app.waitForEvent('download')
    await panel.getByRole('button', { name: format }).click()
    const file = await download
    expect(file.suggestedFilename()).toMatch(format === 'Markdown' ? /^hearth-tide-tables-\d{4}-\d{2}-\d{2}\.md$/ : /^hearth-tide-tables-\d{4}-\d{2}-\d{2}\.json$/)
    const text = await readFile(await file.path(), 'utf8')
    expect(text).toContain('When is high tide?')
    expect(text).toContain('At noon.')
    expect(text).not.toContain('Unrelated')
  }
})
