// Conversations imported from a file (Hearth's export, ChatGPT's conversations.json): the one
// running, with how far main has got, and a toast when it ends.

import type { HistoryImportProgress } from '../../src-shared/types.ts'
import { api } from './api.ts'
import { conversations } from './conversations.svelte.ts'
import { settings } from './settings.svelte.ts'
import { ui } from './ui.svelte.ts'

/** The Api's limit on a file name. */
const MAX_FILE_NAME = 255

class HistoryImportState {
  running = $state(false)
  progress = $state<HistoryImportProgress | null>(null)

  constructor() {
    api.on('historyImportProgress', (progress) => {
      if (this.running) this.progress = progress
    })
  }

  /** A status line: "Checking 120 of 600 conversations…", then "Writing 3,000 of 60,000 messages…". */
  get status(): string {
    if (!this.running) return ''
    const p = this.progress
    if (p === null) return 'Reading the file…'
    const of = `${p.done.toLocaleString()} of ${p.total.toLocaleString()}`
    return p.phase === 'reading' ? `Checking ${of} conversations…` : `Writing ${of} messages…`
  }

  async run(file: File): Promise<void> {
    this.running = true
    this.progress = null
    try {
      const result = await api.importConversations(await file.text(), file.name.slice(0, MAX_FILE_NAME) || 'the file')
      const skipped = result.skippedMessages ? `, ${result.skippedMessages} skipped` : ''
      const n = result.conversationIds.length
      const extras = [
        result.presets > 0 ? `${result.presets} preset${result.presets === 1 ? '' : 's'}` : '',
        result.folders > 0 ? `${result.folders} folder${result.folders === 1 ? '' : 's'}` : '',
      ].filter((e) => e !== '')
      const also = extras.length > 0 ? ` and ${extras.join(' and ')}` : ''
      ui.toast(`Imported ${n} conversation${n === 1 ? '' : 's'} (${result.messages} message${result.messages === 1 ? '' : 's'}${skipped})${also}.`)
      await conversations.refresh()
      if (result.presets > 0) await settings.load()
    } catch (err) {
      ui.error(err)
    } finally {
      this.running = false
      this.progress = null
    }
  }
}

export const historyImport = new HistoryImportState()
