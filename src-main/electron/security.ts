// The renderer's security policy: CSP, the app's own origin, and what the window and its session may do.

import type { Session, Shell, WebContents } from 'electron'

/** The renderer is served from this privileged scheme, never from file:// or the network. */
export const APP_SCHEME = 'hearth'
export const APP_ORIGIN = `${APP_SCHEME}://app`

export { CONTENT_SECURITY_POLICY } from '../app/csp.ts'

/**
 * Where Chromium would fetch Hunspell dictionaries (Linux, and languages Windows' own checker
 * lacks) instead of Google's CDN: loopback, on a port Chromium refuses to connect to (9, discard),
 * so nothing leaves the machine. macOS and Windows check spelling with the system's dictionaries
 * and never download; on Linux a dictionary already in the profile's Dictionaries folder still works.
 */
export const NO_DICTIONARY_DOWNLOADS = 'http://127.0.0.1:9/'

export function isAppUrl(url: string): boolean {
  return url === APP_ORIGIN || url.startsWith(`${APP_ORIGIN}/`)
}

/**
 * The one permission the app's page uses: writing plain text to the clipboard (the copy buttons,
 * which fall back to a selection copy without it). Nothing else, and nothing for another origin.
 */
export function isPermissionAllowed(permission: string, origin: string | undefined): boolean {
  return permission === 'clipboard-sanitized-write' && origin !== undefined && isAppUrl(origin)
}

type SessionPolicy = Pick<Session,
  'setPermissionRequestHandler' | 'setPermissionCheckHandler' | 'setDevicePermissionHandler' | 'setSpellCheckerDictionaryDownloadURL'>

/**
 * Requests (a prompt) and checks (navigator.permissions.query, and APIs that only ask whether
 * they may) both answer from isPermissionAllowed: with no check handler Electron answers yes.
 */
export function lockDownSession(session: SessionPolicy): void {
  session.setPermissionRequestHandler((_contents, permission, callback, details) =>
    callback(isPermissionAllowed(permission, details.requestingUrl)))
  session.setPermissionCheckHandler((_contents, permission, requestingOrigin) => isPermissionAllowed(permission, requestingOrigin))
  session.setDevicePermissionHandler(() => false)
  session.setSpellCheckerDictionaryDownloadURL(NO_DICTIONARY_DOWNLOADS)
}

/** Blocks navigation away from the app and new windows; http(s) links open in the system browser. */
export function lockDownContents(contents: WebContents, shell: Pick<Shell, 'openExternal'>): void {
  const openExternal = (url: string): void => {
    if (/^https?:\/\//i.test(url)) void shell.openExternal(url)
  }
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
