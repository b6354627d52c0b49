import assert from 'node:assert/strict'
import path from 'node:path'
import { describe, it } from 'node:test'
import { resolveDataDir } from '../../../src-main/store/data-dir.ts'

describe('resolveDataDir', () => {
  it('prefers --data-dir, in either spelling, over everything else', () => {
    const env = { HEARTH_DATA_DIR: '/env/dir' }
    assert.equal(resolveDataDir({ argv: ['--data-dir', '/flag/dir'], env, userData: '/electron' }), '/flag/dir')
    assert.equal(resolveDataDir({ argv: ['x', '--data-dir=rel/dir'], env }), path.resolve('rel/dir'))
  })

  it('uses HEARTH_DATA_DIR next, then Electron userData', () => {
    assert.equal(resolveDataDir({ argv: [], env: { HEARTH_DATA_DIR: '/env/dir' }, userData: '/electron' }), '/env/dir')
    assert.equal(resolveDataDir({ argv: [], env: { HEARTH_DATA_DIR: '' }, userData: '/electron' }), '/electron')
  })

  it("falls back to the folder Electron's userData would be on each platform", () => {
    const home = '/home/ada'
    assert.equal(resolveDataDir({ argv: [], env: {}, platform: 'linux', home }), '/home/ada/.config/Hearth')
    assert.equal(resolveDataDir({ argv: [], env: { XDG_CONFIG_HOME: '/xdg' }, platform: 'linux', home }), '/xdg/Hearth')
    assert.equal(
      resolveDataDir({ argv: [], env: {}, platform: 'darwin', home }),
      '/home/ada/Library/Application Support/Hearth',
    )
    assert.equal(resolveDataDir({ argv: [], env: { APPDATA: 'C:/Users/ada/AppData/Roaming' }, platform: 'win32', home }), path.join('C:/Users/ada/AppData/Roaming', 'Hearth'))
  })
})
