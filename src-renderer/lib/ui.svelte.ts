// UI state no single view owns: app facts, open panels, toasts, the live region, focus requests.

import type { AppInfo } from '../../src-shared/types.ts'

export interface Toast {
  id: number
  message: string
  kind: 'info' | 'error'
  action?: { label: string; run: () => void }
}

const TOAST_MS = 6000

class UiState {
  info = $state<AppInfo | null>(null)
  settingsOpen = $state(false)
  /** The Settings section to show when it opens next; the dialog clears it. */
  settingsTab = $state<string | null>(null)
  conversationPanelOpen = $state(false)
  /** Bumped to ask the search box to take focus (Ctrl/Cmd+K). */
  searchFocusRequest = $state(0)
  /** Bumped to ask the composer to take focus (after a new chat). */
  composerFocusRequest = $state(0)
  toasts = $state<Toast[]>([])
  /** The latest whole sentences of a streamed reply, for the polite live region. */
  announcement = $state('')
  #nextToast = 1

  toast(message: string, options: { kind?: Toast['kind']; action?: Toast['action']; ms?: number } = {}): number {
    const id = this.#nextToast++
    this.toasts = [...this.toasts, { id, message, kind: options.kind ?? 'info', ...(options.action ? { action: options.action } : {}) }]
    setTimeout(() => this.dismiss(id), options.ms ?? TOAST_MS)
    return id
  }

  error(err: unknown): void {
    this.toast(err instanceof Error ? err.message : String(err), { kind: 'error', ms: 10_000 })
  }

  /** Runs what a button does; a failure becomes an error toast instead of an unhandled rejection. */
  async attempt(action: () => Promise<unknown>): Promise<void> {
    try {
      await action()
    } catch (err) {
      this.error(err)
    }
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id)
  }

  announce(text: string): void {
    this.announcement = text
  }

  focusSearch(): void {
    this.searchFocusRequest++
  }

  focusComposer(): void {
    this.composerFocusRequest++
  }
}

export const ui = new UiState()
