// The sidebar's folders: the list as main keeps it, and every change to one.

import type { Folder, FolderPatch } from '../../src-shared/types.ts'
import { api } from './api.ts'
import { ui } from './ui.svelte.ts'

/** What a dragged conversation carries: its id, under a type only the sidebar accepts. */
export const CONVERSATION_DRAG_TYPE = 'application/x-hearth-conversation'
/** What a dragged folder carries: its id. */
export const FOLDER_DRAG_TYPE = 'application/x-hearth-folder'

class FoldersState {
  list = $state<Folder[]>([])

  constructor() {
    api.on('foldersChanged', ({ folders }) => (this.list = folders))
  }

  async refresh(): Promise<void> {
    this.list = await api.listFolders()
  }

  get(id: string | null): Folder | undefined {
    return id === null ? undefined : this.list.find((f) => f.id === id)
  }

  async create(name: string): Promise<Folder> {
    const folder = await api.createFolder(name)
    if (!this.list.some((f) => f.id === folder.id)) this.list = [...this.list, folder]
    return folder
  }

  async update(id: string, patch: FolderPatch): Promise<void> {
    const folder = await api.updateFolder(id, patch)
    // The event brings every folder (a move shifts the others); this one is adopted at once.
    this.list = this.list.map((f) => (f.id === id ? folder : f))
  }

  /** The folder one place earlier (-1) or later (+1) in the order; nothing past either end. */
  async shift(id: string, by: -1 | 1): Promise<void> {
    const folder = this.get(id)
    if (folder === undefined) return
    const position = folder.position + by
    if (position < 0 || position >= this.list.length) return
    await this.update(id, { position })
  }

  /**
   * Its conversations stay, unfiled: main says so with a conversationChanged for each. Undo puts
   * the folder back with them for as long as main keeps it.
   */
  async remove(id: string): Promise<void> {
    const name = this.get(id)?.name ?? 'Folder'
    const { undoUntil } = await api.deleteFolder(id)
    this.list = this.list.filter((f) => f.id !== id)
    ui.toast(`Deleted the folder “${name}”; its chats are kept`, {
      ms: Math.max(1000, undoUntil - Date.now()),
      action: { label: 'Undo', run: () => void ui.attempt(() => api.undoDeleteFolder(id)) },
    })
  }
}

export const folders = new FoldersState()
