// Conversations out as a file the browser saves: all of them (Settings) or one (its panel).

import type { ExportFormat } from '../../src-shared/types.ts'
import { api } from './api.ts'

/** Asks main for the export and hands it to the browser's download, named as main names it. */
export async function downloadExport(conversationId: string | null, format: ExportFormat): Promise<void> {
  const file = await api.exportConversations(conversationId, format)
  const url = URL.createObjectURL(new Blob([file.text], { type: file.mimeType }))
  const link = document.createElement('a')
  link.href = url
  link.download = file.fileName
  link.click()
  // The download has started once click() returns; the URL is kept a while for slow save dialogs.
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
