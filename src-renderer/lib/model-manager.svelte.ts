// The model manager page: whether it fills the chat area, which tab it shows, and where focus goes back to.

import { tick } from 'svelte'
import { layout } from './layout.svelte.ts'
import { ui } from './ui.svelte.ts'

export const MODEL_TABS = [
  { id: 'installed', label: 'Installed' },
  { id: 'discover', label: 'Discover' },
  { id: 'downloads', label: 'Downloads' },
  { id: 'remote', label: 'Remote' },
] as const
export type ModelTab = (typeof MODEL_TABS)[number]['id']

/** The tab last shown, so the page opens where it was left, across restarts too. */
const TAB_KEY = 'hearth.modelsTab'

function storedTab(): ModelTab {
  const stored = localStorage.getItem(TAB_KEY)
  return MODEL_TABS.find((t) => t.id === stored)?.id ?? 'installed'
}

class ModelManagerState {
  isOpen = $state(false)
  #tab = $state<ModelTab>(storedTab())
  get tab(): ModelTab {
    return this.#tab
  }

  set tab(tab: ModelTab) {
    this.#tab = tab
    localStorage.setItem(TAB_KEY, tab)
  }

  /** What had the focus when the page opened: it takes it back when the page closes. */
  #returnFocus: HTMLElement | null = null

  open(): void {
    if (this.isOpen) return
    const from = document.activeElement
    this.#returnFocus = from instanceof HTMLElement && from !== document.body ? from : null
    this.isOpen = true
    // A narrow window's sidebar overlay would cover the page.
    layout.closeOverlay()
  }

  /**
   * Back to the chat, the focus where it was (the chat stays mounted under the page, so it is still
   * there); `leaveFocus`: the caller moves it (a chat opened from the sidebar focuses its composer).
   */
  async close(leaveFocus = false): Promise<void> {
    if (!this.isOpen) return
    this.isOpen = false
    const to = this.#returnFocus
    this.#returnFocus = null
    if (leaveFocus) return
    await tick()
    // Gone, or hidden since (a sidebar overlay closed): the chat's composer instead.
    if (to?.isConnected && to.getClientRects().length > 0) to.focus()
    else ui.focusComposer()
  }
}

export const modelManager = new ModelManagerState()
