// The desktop shell's pure parts: where the window reopens and what the menu offers.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { MenuItemConstructorOptions } from 'electron'
import type { MenuCommand } from '../../../src-shared/types.ts'
import { menuTemplate } from '../../../src-main/electron/menu.ts'
import { MIN_SIZE, restoreBounds } from '../../../src-main/electron/window-bounds.ts'

const screen = { x: 0, y: 0, width: 1920, height: 1080 }

describe('restoreBounds', () => {
  it('reopens where the window was', () => {
    const saved = { x: 100, y: 50, width: 1000, height: 700, maximized: true }
    assert.deepEqual(restoreBounds(saved, [screen]), saved)
  })

  it('centres at the default when the saved place is on a screen that is gone', () => {
    assert.equal(restoreBounds({ x: 2500, y: 100, width: 800, height: 600, maximized: false }, [screen]), null)
  })

  it('finds a second screen to the left', () => {
    const left = { x: -1280, y: 0, width: 1280, height: 1024 }
    assert.equal(restoreBounds({ x: -1000, y: 10, width: 800, height: 600, maximized: false }, [screen, left])?.x, -1000)
  })

  it('grows a too-small window to the minimum size', () => {
    const bounds = restoreBounds({ x: 10, y: 10, width: 50, height: 20, maximized: false }, [screen])
    assert.equal(bounds?.width, MIN_SIZE.width)
    assert.equal(bounds?.height, MIN_SIZE.height)
  })
})

function items(template: MenuItemConstructorOptions[]): MenuItemConstructorOptions[] {
  return template.flatMap((item) => [item, ...(Array.isArray(item.submenu) ? items(item.submenu) : [])])
}

describe('menuTemplate', () => {
  for (const platform of ['darwin', 'win32', 'linux'] as const) {
    it(`binds new chat, search, settings, the sidebar and the models page on ${platform}`, () => {
      const ran: MenuCommand[] = []
      const all = items(menuTemplate(platform, (command) => ran.push(command)))
      const byKey = (accelerator: string) => all.find((item) => item.accelerator === accelerator)
      for (const [key, command] of [['CmdOrCtrl+N', 'new-chat'], ['CmdOrCtrl+K', 'search'], ['CmdOrCtrl+,', 'settings'], ['CmdOrCtrl+B', 'toggle-sidebar'], ['CmdOrCtrl+Shift+M', 'models']] as const) {
        const item = byKey(key)
        assert.ok(item?.click, `${key} is missing`)
        ;(item.click as () => void)()
        assert.equal(ran.at(-1), command)
      }
      assert.ok(all.some((item) => item.role === 'editMenu'), 'the edit menu (copy, paste) is missing')
      assert.equal(all.some((item) => item.role === 'appMenu'), platform === 'darwin')
    })
  }
})
