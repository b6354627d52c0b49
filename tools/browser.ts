// Which Chromium the e2e tests drive: HEARTH_BROWSER if set, else a system Chrome/Chromium/Edge,
// else Playwright's own download, else the one @sparticuz/chromium carries inside its npm package.

import { spawnSync } from 'node:child_process'
import { accessSync, constants, createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { brotliDecompressSync, createBrotliDecompress } from 'node:zlib'
import { chromium } from '@playwright/test'

export type Browser =
  | { source: 'HEARTH_BROWSER' | 'system' | 'playwright'; executablePath: string }
  | { source: 'package'; executablePath: string; packed: PackedChromium }
  | { source: 'none'; reason: string }

/** @sparticuz/chromium's brotli-packed headless shell and where it is unpacked to. */
export interface PackedChromium {
  version: string
  /** The package's `bin/`: chromium.br, al2023.tar.br (NSS, expat), fonts.tar.br. */
  binDir: string
  /** node_modules/.cache/hearth-chromium/<version>: chromium, lib/, fonts/, fonts.conf. */
  unpackDir: string
}

/** What the choice looks at, so tests can stage any machine. */
export interface Probe {
  platform: NodeJS.Platform
  arch: string
  env: NodeJS.ProcessEnv
  /** An executable file that Playwright can launch (not a snap, whose sandbox hides our profile). */
  usable(file: string): boolean
  /** Where Playwright's own Chromium is or would be. */
  playwrightChromium(): string
  packedChromium(): PackedChromium | undefined
}

const STEPS = ['system', 'playwright', 'package'] as const

/** Chrome, Chromium and Edge where their installers put them, most specific first. */
export function systemCandidates(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): string[] {
  if (platform === 'darwin') {
    const apps = ['Google Chrome.app/Contents/MacOS/Google Chrome', 'Chromium.app/Contents/MacOS/Chromium', 'Microsoft Edge.app/Contents/MacOS/Microsoft Edge']
    const roots = ['/Applications', ...(env.HOME ? [path.join(env.HOME, 'Applications')] : [])]
    return roots.flatMap((root) => apps.map((app) => path.posix.join(root, app)))
  }
  if (platform === 'win32') {
    const roots = [env.LOCALAPPDATA, env.PROGRAMFILES, env['PROGRAMFILES(X86)']].filter((root): root is string => !!root)
    const exes = ['Google\\Chrome\\Application\\chrome.exe', 'Chromium\\Application\\chrome.exe', 'Microsoft\\Edge\\Application\\msedge.exe']
    return exes.flatMap((exe) => roots.map((root) => path.win32.join(root, exe)))
  }
  const names = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome', 'microsoft-edge-stable', 'microsoft-edge']
  const dirs = (env.PATH ?? '').split(':').filter(Boolean)
  return names.flatMap((name) => dirs.map((dir) => path.posix.join(dir, name)))
}

function missing(probe: Probe, why: string): string {
  const bundled = probe.platform === 'linux' && probe.arch === 'x64'
  const ways = bundled
    ? '`apt-get install chromium` (or Google Chrome), or `npm install` to bring the @sparticuz/chromium dev dependency'
    : '`npx playwright install chromium` with internet, or install Google Chrome, Chromium or Microsoft Edge'
  return `No browser for the e2e tests (${why}): install one with ${ways}, or name one with HEARTH_BROWSER=/path/to/chrome.`
}

/** One step of the order: a system browser, Playwright's download, or the npm package's. */
function tryStep(step: (typeof STEPS)[number], probe: Probe): Browser | undefined {
  if (step === 'system') {
    const found = systemCandidates(probe.platform, probe.env).find((file) => probe.usable(file))
    return found ? { source: 'system', executablePath: found } : undefined
  }
  if (step === 'playwright') {
    const own = probe.playwrightChromium()
    return probe.usable(own) ? { source: 'playwright', executablePath: own } : undefined
  }
  // The package carries a Linux x64 build only.
  if (probe.platform !== 'linux' || probe.arch !== 'x64') return undefined
  const packed = probe.packedChromium()
  return packed ? { source: 'package', executablePath: path.join(packed.unpackDir, 'chromium'), packed } : undefined
}

/**
 * The browser for this machine. HEARTH_BROWSER is a path to use as it is, or one step of the order
 * alone (`system`, `playwright`, `package`), or `none`: how a test run stands in for a machine
 * that lacks the others.
 */
export function chooseBrowser(probe: Probe): Browser {
  const wanted = probe.env.HEARTH_BROWSER?.trim()
  if (wanted === 'none') return { source: 'none', reason: missing(probe, 'HEARTH_BROWSER=none') }
  const only = STEPS.find((step) => step === wanted)
  if (wanted && !only) {
    return probe.usable(wanted)
      ? { source: 'HEARTH_BROWSER', executablePath: wanted }
      : { source: 'none', reason: missing(probe, `HEARTH_BROWSER=${wanted} is not an executable file`) }
  }
  for (const step of only ? [only] : STEPS) {
    const browser = tryStep(step, probe)
    if (browser) return browser
  }
  return { source: 'none', reason: missing(probe, only ? `HEARTH_BROWSER=${only} found none` : 'no Chrome, Chromium or Edge found') }
}

function usable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false
    accessSync(file, constants.X_OK)
    const real = realpathSync(file)
    if (real.startsWith('/snap/')) return false
    // Ubuntu's chromium-browser is a small script that starts the snap.
    return statSync(real).size > 64 * 1024 || !readFileSync(real, 'utf8').includes('/snap/')
  } catch {
    return false
  }
}

function packedChromium(): PackedChromium | undefined {
  const require = createRequire(import.meta.url)
  let entry: string
  try {
    entry = require.resolve('@sparticuz/chromium')
  } catch {
    return undefined
  }
  const packageDir = path.resolve(path.dirname(entry), '..')
  const binDir = path.join(packageDir, 'bin')
  if (!existsSync(path.join(binDir, 'chromium.br'))) return undefined
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string }
  // node_modules/@sparticuz/chromium -> node_modules/.cache: gone with node_modules, never in git.
  const unpackDir = path.join(packageDir, '..', '..', '.cache', 'hearth-chromium', version)
  return { version, binDir, unpackDir }
}

export function findBrowser(env: NodeJS.ProcessEnv = process.env): Browser {
  return chooseBrowser({
    platform: process.platform,
    arch: process.arch,
    env,
    usable,
    playwrightChromium: () => chromium.executablePath(),
    packedChromium,
  })
}

export function describeBrowser(browser: Browser): string {
  if (browser.source === 'none') return browser.reason
  if (browser.source === 'package') return `@sparticuz/chromium ${browser.packed.version} (npm package), unpacked at ${browser.executablePath}`
  return `${browser.source} browser ${browser.executablePath}`
}

/** The environment the packed Chromium needs: its own NSS libraries and fonts. */
export function browserEnv(browser: Browser): Record<string, string> {
  if (browser.source !== 'package') return {}
  const { unpackDir } = browser.packed
  const libraryPath = [path.join(unpackDir, 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':')
  return { LD_LIBRARY_PATH: libraryPath, FONTCONFIG_FILE: path.join(unpackDir, 'fonts.conf') }
}

function untar(archive: string, into: string): void {
  mkdirSync(into, { recursive: true })
  const result = spawnSync('tar', ['-x', '--no-same-owner', '-C', into], { input: brotliDecompressSync(readFileSync(archive)) })
  if (result.status !== 0) throw new Error(`tar could not unpack ${archive}: ${result.stderr?.toString().trim() || result.error?.message}`)
}

/**
 * Unpacks the packed Chromium once (about 210 MB from 67 MB) into a folder named by its version.
 * It is written beside the final folder and renamed into place, so a folder that exists is whole,
 * and two runs unpacking at once both end with one. Resolves with the seconds it took (0: already there).
 */
export async function prepareBrowser(browser: Browser): Promise<number> {
  if (browser.source !== 'package' || existsSync(browser.executablePath)) return 0
  const started = performance.now()
  const { binDir, unpackDir } = browser.packed
  mkdirSync(path.dirname(unpackDir), { recursive: true })
  const partial = mkdtempSync(`${unpackDir}.partial-`)
  try {
    await pipeline(
      createReadStream(path.join(binDir, 'chromium.br')),
      createBrotliDecompress(),
      createWriteStream(path.join(partial, 'chromium'), { mode: 0o755 }),
    )
    // lib/: the NSS and expat libraries the binary links, built for the glibc of Amazon Linux 2023.
    untar(path.join(binDir, 'al2023.tar.br'), partial)
    // fonts/: Open Sans, for machines without fonts; the archive's own fonts.conf points at /tmp.
    untar(path.join(binDir, 'fonts.tar.br'), partial)
    const dirs = [path.join(unpackDir, 'fonts'), '/usr/share/fonts', '/usr/local/share/fonts']
    writeFileSync(
      path.join(partial, 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n${dirs.map((dir) => `  <dir>${dir}</dir>`).join('\n')}\n` +
        `  <cachedir>${path.join(unpackDir, 'fontconfig-cache')}</cachedir>\n</fontconfig>\n`,
    )
    try {
      renameSync(partial, unpackDir)
    } catch (err) {
      // Another run finished first: its folder is as good as ours.
      if (!existsSync(browser.executablePath)) throw err
    }
  } finally {
    rmSync(partial, { recursive: true, force: true })
  }
  return (performance.now() - started) / 1000
}
