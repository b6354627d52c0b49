// Where the sidebar is: docked or hidden in a wide window (remembered across reloads), an overlay in a narrow one.

const HIDDEN_KEY = 'hearth.sidebarHidden'
/** Below this a docked sidebar (17.5rem) would squeeze the chat: it starts hidden and opens over the chat instead. */
const NARROW = '(max-width: 900px)'

class LayoutState {
  narrow = $state(matchMedia(NARROW).matches)
  /** The wide window's choice. */
  #docked = $state(localStorage.getItem(HIDDEN_KEY) !== '1')
  /** The narrow window's overlay: never remembered, so a narrow window always opens on the chat. */
  #overlay = $state(false)

  constructor() {
    matchMedia(NARROW).addEventListener('change', (e) => {
      this.narrow = e.matches
      this.#overlay = false
    })
  }

  get sidebarOpen(): boolean {
    return this.narrow ? this.#overlay : this.#docked
  }

  get sidebarOverlay(): boolean {
    return this.narrow && this.#overlay
  }

  setSidebar(open: boolean): void {
    if (this.narrow) {
      this.#overlay = open
      return
    }
    this.#docked = open
    localStorage.setItem(HIDDEN_KEY, open ? '0' : '1')
  }

  /** A chat picked in the overlay takes the window; a docked sidebar stays. */
  closeOverlay(): void {
    this.#overlay = false
  }
}

export const layout = new LayoutState()
