// The session's policy, with a fake session: permissions asked for and checked answer alike,
// nothing beyond the app's clipboard writes is granted, and spell-check never downloads.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Session } from 'electron'
import { APP_ORIGIN, lockDownSession, NO_DICTIONARY_DOWNLOADS } from '../../../src-main/electron/security.ts'

type RequestHandler = Parameters<Session['setPermissionRequestHandler']>[0]
type CheckHandler = Parameters<Session['setPermissionCheckHandler']>[0]
type DeviceHandler = Parameters<Session['setDevicePermissionHandler']>[0]
type Permission = Parameters<NonNullable<CheckHandler>>[1]

/** The session methods lockDownSession calls, keeping what it was given. */
function fakeSession() {
  const set: { request?: RequestHandler; check?: CheckHandler; device?: DeviceHandler; dictionaryUrl?: string } = {}
  const session = {
    setPermissionRequestHandler: (handler: RequestHandler) => void (set.request = handler),
    setPermissionCheckHandler: (handler: CheckHandler) => void (set.check = handler),
    setDevicePermissionHandler: (handler: DeviceHandler) => void (set.device = handler),
    setSpellCheckerDictionaryDownloadURL: (url: string) => void (set.dictionaryUrl = url),
  }
  lockDownSession(session)
  const request = (permission: Permission, requestingUrl: string): boolean => {
    let granted: boolean | null = null
    set.request!(null as never, permission, (answer) => (granted = answer), { requestingUrl, isMainFrame: true })
    assert.notEqual(granted, null, 'the request handler never answered')
    return granted!
  }
  const check = (permission: Permission, origin: string): boolean =>
    set.check!(null, permission, origin, { requestingUrl: `${origin}/index.html`, isMainFrame: true })
  return { set, request, check }
}

const OTHERS: Permission[] = ['media', 'geolocation', 'notifications', 'clipboard-read', 'display-capture', 'hid', 'serial', 'usb', 'openExternal', 'fileSystem', 'unknown']

describe('lockDownSession', () => {
  it('has a check handler: without one Electron answers every check with yes', () => {
    const { set, check } = fakeSession()
    assert.equal(typeof set.check, 'function')
    for (const permission of OTHERS) assert.equal(check(permission, APP_ORIGIN), false, permission)
  })

  it('denies every request but the clipboard write', () => {
    const { request } = fakeSession()
    for (const permission of OTHERS) assert.equal(request(permission, `${APP_ORIGIN}/index.html`), false, permission)
    assert.equal(request('clipboard-sanitized-write', `${APP_ORIGIN}/index.html`), true)
  })

  it('lets only the app itself write to the clipboard, asked or checked', () => {
    const { request, check } = fakeSession()
    assert.equal(check('clipboard-sanitized-write', APP_ORIGIN), true)
    for (const origin of ['https://example.com', 'file://', 'hearth://apps', 'http://127.0.0.1:5173']) {
      assert.equal(check('clipboard-sanitized-write', origin), false, origin)
      assert.equal(request('clipboard-sanitized-write', `${origin}/x`), false, origin)
    }
  })

  it('grants no USB, HID or serial device', () => {
    const { set } = fakeSession()
    assert.equal(set.device?.({ deviceType: 'usb', origin: APP_ORIGIN, device: {} as never }), false)
  })

  it('points dictionary downloads at loopback, on a port Chromium refuses, never the internet', () => {
    const { set } = fakeSession()
    assert.equal(set.dictionaryUrl, NO_DICTIONARY_DOWNLOADS)
    const url = new URL(NO_DICTIONARY_DOWNLOADS)
    assert.equal(url.hostname, '127.0.0.1')
    // net/base/port_util.cc kRestrictedPorts: 9 (discard) fails with ERR_UNSAFE_PORT before connecting.
    assert.equal(url.port, '9')
    assert.ok(url.pathname.endsWith('/'), 'Chromium appends the file name to the URL')
  })
})
