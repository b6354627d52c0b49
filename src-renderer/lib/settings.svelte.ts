// The app's settings as main stores them, and the theme they resolve to.

import type { Settings } from '../../src-shared/types.ts'
import { api } from './api.ts'

class SettingsState {
  /** null until the first load. */
  current = $state<Settings | null>(null)
  /** Follows the OS while the theme setting is 'system'. */
  systemDark = $state(matchMedia('(prefers-color-scheme: dark)').matches)

  constructor() {
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', (e) => (this.systemDark = e.matches))
    // Removing a model also forgets the draft models chosen for it or as it.
    api.on('modelsChanged', () => void this.load())
  }

  get theme(): 'light' | 'dark' {
    const wanted = this.current?.theme ?? 'system'
    return wanted === 'system' ? (this.systemDark ? 'dark' : 'light') : wanted
  }

  async load(): Promise<void> {
    this.current = await api.getSettings()
  }

  /** Saves and adopts what main returns: an invalid value changes nothing and rejects. */
  async update(patch: Partial<Settings>): Promise<void> {
    this.current = await api.setSettings(patch)
  }
}

export const settings = new SettingsState()
