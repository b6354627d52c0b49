// The e2e tests' browser: HEARTH_BROWSER, then a system one, Playwright's own, the npm package's, or one line saying what to install.

import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { brotliCompressSync } from 'node:zlib'
import { browserEnv, chooseBrowser, findBrowser, prepareBrowser, systemCandidates, type Browser, type PackedChromium, type Probe } from '../../../tools/browser.ts'

const PLAYWRIGHT = '/home/me/.cache/ms-playwright/chromium-1255/chrome-linux/chrome'
const PACKED: PackedChromium = { version: '153.0.0', binDir: '/repo/node_modules/@sparticuz/chromium/bin', unpackDir: '/repo/node_modules/.cache/hearth-chromium/153.0.0' }

/** A Linux x64 machine with the given executables, and the npm package unless `packed` is false. */
function machine(files: string[], options: { env?: NodeJS.ProcessEnv; packed?: boolean; platform?: NodeJS.Platform; arch?: string } = {}): Probe {
  return {
    platform: options.platform ?? 'linux',
    arch: options.arch ?? 'x64',
    env: { PATH: '/usr/local/bin:/usr/bin', ...options.env },
    usable: (file) => files.includes(file),
    playwrightChromium: () => PLAYWRIGHT,
    packedChromium: () => (options.packed === false ? undefined : PACKED),
  }
}

function pathOf(browser: Browser): string {
  assert.notEqual(browser.source, 'none', browser.source === 'none' ? browser.reason : '')
  return browser.source === 'none' ? '' : browser.executablePath
}

describe('chooseBrowser', () => {
  it('takes a system Chromium first, before Playwright’s download and the package', () => {
    const browser = chooseBrowser(machine(['/usr/bin/chromium', PLAYWRIGHT]))
    assert.equal(browser.source, 'system')
    assert.equal(pathOf(browser), '/usr/bin/chromium')
  })

  it('finds Chrome and Edge on the PATH, Chromium before them and earlier PATH entries first', () => {
    assert.equal(pathOf(chooseBrowser(machine(['/usr/bin/google-chrome', '/usr/bin/microsoft-edge']))), '/usr/bin/google-chrome')
    assert.equal(pathOf(chooseBrowser(machine(['/usr/bin/chromium', '/usr/local/bin/chromium']))), '/usr/local/bin/chromium')
    assert.equal(pathOf(chooseBrowser(machine(['/usr/bin/google-chrome', '/usr/bin/chromium-browser']))), '/usr/bin/chromium-browser')
  })

  it('takes Playwright’s own browser when there is no system one', () => {
    const browser = chooseBrowser(machine([PLAYWRIGHT]))
    assert.equal(browser.source, 'playwright')
    assert.equal(pathOf(browser), PLAYWRIGHT)
  })

  it('falls back to the npm package’s Chromium, run from where it is unpacked', () => {
    const browser = chooseBrowser(machine([]))
    assert.equal(browser.source, 'package')
    assert.equal(pathOf(browser), path.join(PACKED.unpackDir, 'chromium'))
  })

  it('does not offer the package’s Linux x64 build to other systems', () => {
    for (const [platform, arch] of [['linux', 'arm64'], ['darwin', 'arm64'], ['win32', 'x64']] as const) {
      const browser = chooseBrowser(machine([], { platform, arch }))
      assert.equal(browser.source, 'none', `${platform}/${arch}`)
      assert.match(browser.source === 'none' ? browser.reason : '', /npx playwright install chromium/)
    }
  })

  it('says in one line what to install when there is no browser at all', () => {
    const browser = chooseBrowser(machine([], { packed: false }))
    assert.equal(browser.source, 'none')
    const reason = browser.source === 'none' ? browser.reason : ''
    assert.doesNotMatch(reason, /\n/)
    assert.match(reason, /apt-get install chromium/)
    assert.match(reason, /@sparticuz\/chromium/)
  })

  it('uses the executable HEARTH_BROWSER names, and refuses one that is not there', () => {
    const named = chooseBrowser(machine(['/opt/chrome/chrome', '/usr/bin/chromium'], { env: { HEARTH_BROWSER: '/opt/chrome/chrome' } }))
    assert.deepEqual(named, { source: 'HEARTH_BROWSER', executablePath: '/opt/chrome/chrome' })
    const absent = chooseBrowser(machine(['/usr/bin/chromium'], { env: { HEARTH_BROWSER: '/opt/nothing' } }))
    assert.equal(absent.source, 'none')
    assert.match(absent.source === 'none' ? absent.reason : '', /HEARTH_BROWSER=\/opt\/nothing is not an executable file/)
  })

  it('takes one step of the order alone when HEARTH_BROWSER names it, or none at all', () => {
    const everything = ['/usr/bin/chromium', PLAYWRIGHT]
    assert.equal(chooseBrowser(machine(everything, { env: { HEARTH_BROWSER: 'package' } })).source, 'package')
    assert.equal(chooseBrowser(machine(everything, { env: { HEARTH_BROWSER: 'playwright' } })).source, 'playwright')
    assert.equal(chooseBrowser(machine(everything, { env: { HEARTH_BROWSER: 'none' } })).source, 'none')
    const notThere = chooseBrowser(machine(['/usr/bin/chromium'], { env: { HEARTH_BROWSER: 'playwright' } }))
    assert.match(notThere.source === 'none' ? notThere.reason : '', /HEARTH_BROWSER=playwright found none/)
  })
})

describe('systemCandidates', () => {
  it('looks where the macOS and Windows installers put Chrome, Chromium and Edge', () => {
    assert.ok(systemCandidates('darwin', {}).includes('/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'))
    const windows = systemCandidates('win32', { PROGRAMFILES: 'C:\\Program Files', 'PROGRAMFILES(X86)': 'C:\\Program Files (x86)' })
    assert.ok(windows.includes('C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe'))
    assert.ok(windows.includes('C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe'))
  })
})

describe('findBrowser', () => {
  it('refuses a HEARTH_BROWSER that is a folder or not executable', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hearth-browser-'))
    try {
      assert.equal(findBrowser({ HEARTH_BROWSER: dir }).source, 'none')
      assert.equal(findBrowser({ HEARTH_BROWSER: path.join(dir, 'missing') }).source, 'none')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('prepareBrowser', () => {
  /** A package bin/ like @sparticuz/chromium's, with a script for the browser. */
  async function fakePackage(root: string): Promise<PackedChromium> {
    const binDir = path.join(root, 'bin')
    const staged = path.join(root, 'staged')
    await mkdir(path.join(staged, 'lib'), { recursive: true })
    await mkdir(path.join(staged, 'fonts', 'Open_Sans'), { recursive: true })
    await writeFile(path.join(staged, 'lib', 'libnss3.so'), 'nss')
    await writeFile(path.join(staged, 'fonts', 'Open_Sans', 'OpenSans-Regular.ttf'), 'font')
    await writeFile(path.join(staged, 'fonts.conf'), '<fontconfig><dir>/tmp/fonts</dir></fontconfig>')
    const tarOf = (...entries: string[]) => brotliCompressSync(execFileSync('tar', ['-c', '-C', staged, ...entries]))
    await mkdir(binDir)
    await writeFile(path.join(binDir, 'chromium.br'), brotliCompressSync('#!/bin/sh\necho chromium\n'))
    await writeFile(path.join(binDir, 'al2023.tar.br'), tarOf('lib'))
    await writeFile(path.join(binDir, 'fonts.tar.br'), tarOf('fonts', 'fonts.conf'))
    return { version: '1.0.0', binDir, unpackDir: path.join(root, 'cache', '1.0.0') }
  }

  it('unpacks the binary, its libraries and fonts once, with a fonts.conf that points at them', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-browser-'))
    try {
      const packed = await fakePackage(root)
      const browser: Browser = { source: 'package', executablePath: path.join(packed.unpackDir, 'chromium'), packed }
      // Two runs at once end with one whole folder.
      const [first, second] = await Promise.all([prepareBrowser(browser), prepareBrowser(browser)])
      assert.ok(first > 0 || second > 0)
      assert.equal(execFileSync(browser.executablePath).toString(), 'chromium\n')
      assert.equal(await readFile(path.join(packed.unpackDir, 'lib', 'libnss3.so'), 'utf8'), 'nss')
      const conf = await readFile(browserEnv(browser).FONTCONFIG_FILE!, 'utf8')
      assert.ok(conf.includes(`<dir>${path.join(packed.unpackDir, 'fonts')}</dir>`))
      assert.doesNotMatch(conf, /\/tmp\/fonts/)
      assert.match(browserEnv(browser).LD_LIBRARY_PATH!, new RegExp(`^${path.join(packed.unpackDir, 'lib')}`))
      assert.deepEqual((await readdir(path.join(root, 'cache'))).sort(), ['1.0.0'])
      assert.equal(await prepareBrowser(browser), 0)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('has nothing to unpack or set for a browser that is installed', async () => {
    const system: Browser = { source: 'system', executablePath: '/usr/bin/chromium' }
    assert.equal(await prepareBrowser(system), 0)
    assert.deepEqual(browserEnv(system), {})
  })
})
