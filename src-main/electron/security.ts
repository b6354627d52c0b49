// The renderer's security policy: CSP, the app's own origin, and what the window may do.

import { shell, type WebContents } from 'electron'

/** The renderer is served from this privileged scheme, never from file:// or the network. */
export const APP_SCHEME = 'hearth'
export const APP_ORIGIN = `${APP_SCHEME}://app`

export { CONTENT_SECURITY_POLICY } from '../app/csp.ts'

export function isAppUrl(url: string): boolean {
  return url === APP_ORIGIN || url.startsWith(`${APP_ORIGIN}/`)
}

/** Blocks navigation away from the app and new windows; http(s) links open in the system browser. */
export function lockDownContents(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) {
      event.preventDefault()
      openExternal(url)
    }
  })
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault()
  })
  contents.setWindowOpenHandler(({ url }) => {
    openExternal(url)
    return { action: 'deny' }
  })
  contents.on('will-attach-webview', (event) => event.preventDefault())
}

function openExternal(url: string): void {
  if (/^https?:\/\//i.test(url)) void shell.openExternal(url)
}
