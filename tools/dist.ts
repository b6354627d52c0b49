// `npm run dist`: this OS's installers into release/. `--check`: an offline pack of the app, asserted on.
// Usage: tsx tools/dist.ts [--check [--keep]] [--publish never|always|onTag|onTagOrDraft]

import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Arch, Platform, build } from 'electron-builder'
import type { CliOptions } from 'electron-builder'
import { buildParts } from './build.ts'
import { checkFuses, checkPackedApp, formatResults } from './dist-check.ts'
import type { OrtArch, OrtPlatform, PackedApp } from './dist-check.ts'

type PublishPolicy = NonNullable<CliOptions['publish']>

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

/**
 * app.asar + app.asar.unpacked, as packed for linux/x64: 55 MiB when first measured, 45 MiB of it
 * onnxruntime. Any other platform's onnxruntime folder (25-86 MiB) pushes it past the budget.
 */
export const BUDGET_BYTES = 75 * 2 ** 20

/** Where electron-builder leaves the unpacked app of each platform under its output folder. */
function resourcesDir(outDir: string, platform: OrtPlatform, arch: OrtArch): string {
  if (platform === 'darwin') return path.join(outDir, `mac-${arch}`, 'Hearth.app', 'Contents', 'Resources')
  const name = platform === 'win32' ? 'win' : 'linux'
  return path.join(outDir, arch === 'x64' ? `${name}-unpacked` : `${name}-${arch}-unpacked`, 'resources')
}

/** The file @electron/fuses reads the wire from: the app bundle on macOS, the executable elsewhere. */
function executableOf(resources: string, platform: OrtPlatform): string {
  if (platform === 'darwin') return path.resolve(resources, '..', '..')
  return path.join(path.dirname(resources), platform === 'win32' ? 'Hearth.exe' : 'hearth')
}

function hostArch(): OrtArch {
  if (process.arch === 'x64' || process.arch === 'arm64') return process.arch
  throw new Error(`onnxruntime-node ships no binaries for ${process.arch}; Hearth builds for x64 and arm64 only`)
}

function hostPlatform(): OrtPlatform {
  if (process.platform === 'linux' || process.platform === 'win32' || process.platform === 'darwin') return process.platform
  throw new Error(`electron-builder cannot package Hearth on ${process.platform}`)
}

function electronVersion(): string {
  return (JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')) as { version: string }).version
}

function electronAbi(version: string): number {
  const { getAbi } = require('node-abi') as { getAbi(target: string, runtime: 'electron'): string }
  return Number(getAbi(version, 'electron'))
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
}

/** What the packed app must hold, read from this tree's build output and package.json. */
function expectations(resources: string, platform: OrtPlatform, arch: OrtArch, sqliteAbi: PackedApp['sqliteAbi']): PackedApp {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; version?: string }> }
  const engineBuilt = existsSync(path.join(root, 'src-main/engine/main.ts'))
  return {
    resourcesDir: resources,
    platform,
    arch,
    required: [
      { name: 'app.asar holds the built main', path: 'dist/main/main.js' },
      { name: 'app.asar holds the built preload', path: 'dist/main/preload.cjs' },
      { name: 'app.asar holds the built renderer', path: 'dist/renderer/index.html' },
      engineBuilt
        ? { name: 'app.asar holds the built engine', path: 'dist/main/engine.js' }
        : { name: 'app.asar holds the built engine', path: null, why: 'src-main/engine/main.ts does not exist yet, so the build has no engine entry' },
    ],
    builtFiles: [...listFiles(path.join(root, 'dist/main')), ...listFiles(path.join(root, 'dist/renderer'))].filter((it) => !it.endsWith('.map')),
    devOnly: Object.entries(lock.packages)
      .filter(([key, info]) => key !== '' && info.dev === true)
      .map(([key, info]) => ({ path: key, version: info.version ?? '' })),
    sqliteAbi,
    budgetBytes: BUDGET_BYTES,
  }
}

/**
 * Electron's fuse wire as it ships: the sentinel, wire version 1, 8 fuses, each '1' on or '0' off
 * (RunAsNode, cookie encryption, NODE_OPTIONS, --inspect, asar integrity, only app.asar, browser
 * V8 snapshot, file:// privileges). Every fuse Hearth sets starts the other way.
 */
const STUB_FUSE_WIRE = Buffer.concat([Buffer.from('dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX'), Buffer.from([1, 8]), Buffer.from('10110001')])

/**
 * electronDist as a folder holding only the executable name electron-builder renames: it then
 * skips the Electron download and packs resources/app.asar around it. The stub carries a fuse
 * wire, so that electron-builder flips it as it would Electron's and the check reads it back.
 */
function stubElectron(dir: string): string {
  const stub = path.join(dir, 'electron-stub')
  mkdirSync(stub)
  const script = Buffer.from('#!/bin/sh\necho "stub Electron from dist:check" >&2\nexit 1\n# ')
  writeFileSync(path.join(stub, 'electron'), Buffer.concat([script, STUB_FUSE_WIRE, Buffer.from('\n')]), { mode: 0o755 })
  return stub
}

const PACK_STEP = 'electron-builder packs the app around a stub Electron'

/** Offline: pack linux/<host arch> into a temp folder with a stub Electron and no native rebuild. */
async function check(keep: boolean): Promise<boolean> {
  await buildParts(['renderer', 'main'], true)
  const arch = hostArch()
  const temp = mkdtempSync(path.join(os.tmpdir(), 'hearth-dist-check-'))
  try {
    const outDir = path.join(temp, 'out')
    const started = performance.now()
    await build({
      projectDir: root,
      targets: Platform.LINUX.createTarget('dir', Arch[arch]),
      publish: 'never',
      config: { electronDist: stubElectron(temp), npmRebuild: false, directories: { output: outDir } },
    })
    const version = electronVersion()
    const skipped = `rebuild skipped: it downloads Electron ${version} headers (ABI ${electronAbi(version)}), which needs the internet; \`npm run dist\` does it`
    const packed = { name: PACK_STEP, status: 'pass', detail: `linux/${arch} in ${((performance.now() - started) / 1000).toFixed(1)} s` } as const
    const resources = resourcesDir(outDir, 'linux', arch)
    const results = [packed, ...checkPackedApp(expectations(resources, 'linux', arch, { skipped })), await checkFuses(executableOf(resources, 'linux'))]
    console.log(formatResults('dist:check', results))
    return results.every((it) => it.status !== 'fail')
  } finally {
    if (keep) console.log(`kept ${temp}`)
    else rmSync(temp, { recursive: true, force: true })
  }
}

/**
 * Installers for this OS. electron-builder rebuilds better-sqlite3 for Electron's ABI inside
 * node_modules; the Node build that tests and browser mode load is put back afterwards.
 */
async function dist(publish: PublishPolicy): Promise<boolean> {
  await buildParts(['renderer', 'main'], true)
  const platform = hostPlatform()
  const arch = platform === 'darwin' ? 'arm64' : hostArch()
  const sqliteBuild = path.join(root, 'node_modules/better-sqlite3/build')
  if (!existsSync(sqliteBuild)) throw new Error('node_modules/better-sqlite3/build is missing: run `npm install` first')
  // An npm-wide `nodedir` (set on machines that build addons offline against the system Node's
  // headers) makes node-gyp compile against Node instead of Electron, and the rebuild "succeeds".
  delete process.env.npm_config_nodedir
  delete process.env.NPM_CONFIG_NODEDIR
  const backup = mkdtempSync(path.join(os.tmpdir(), 'hearth-sqlite-node-build-'))
  cpSync(sqliteBuild, backup, { recursive: true })
  try {
    const target = { linux: Platform.LINUX, win32: Platform.WINDOWS, darwin: Platform.MAC }[platform]
    const artifacts = await build({ projectDir: root, targets: target.createTarget(null, Arch[arch]), publish })
    const version = electronVersion()
    const resources = resourcesDir(path.join(root, 'release'), platform, arch)
    const results = [...checkPackedApp(expectations(resources, platform, arch, { electronVersion: version, abi: electronAbi(version) })),
      await checkFuses(executableOf(resources, platform))]
    console.log(formatResults('dist', results))
    for (const file of artifacts) console.log(`artifact: ${path.relative(root, file)}`)
    return results.every((it) => it.status !== 'fail')
  } finally {
    rmSync(sqliteBuild, { recursive: true, force: true })
    cpSync(backup, sqliteBuild, { recursive: true })
    rmSync(backup, { recursive: true, force: true })
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: { check: { type: 'boolean' }, keep: { type: 'boolean' }, publish: { type: 'string', default: 'never' } },
  })
  const policies: PublishPolicy[] = ['never', 'always', 'onTag', 'onTagOrDraft']
  const publish = policies.find((it) => it === values.publish)
  if (publish === undefined) throw new Error(`--publish takes one of ${policies.join(', ')}, not "${values.publish}"`)
  let ok = false
  try {
    ok = values.check ? await check(values.keep ?? false) : await dist(publish)
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    if (values.check) console.log(formatResults('dist:check', [{ name: PACK_STEP, status: 'fail', detail: message }]))
    else console.error(`dist failed: ${message}`)
  }
  process.exit(ok ? 0 : 1)
}
