// Assertions on a packed app's resources folder (app.asar + app.asar.unpacked), as pass/fail/skip lines.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { extractFile, listPackage, statFile } from '@electron/asar'
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses'

export type OrtPlatform = 'linux' | 'win32' | 'darwin'
export type OrtArch = 'x64' | 'arm64'

export interface CheckResult {
  name: string
  status: 'pass' | 'fail' | 'skip'
  detail: string
}

export interface PackedApp {
  /** Folder holding app.asar and app.asar.unpacked. */
  resourcesDir: string
  platform: OrtPlatform
  arch: OrtArch
  /** Paths inside app.asar that must be there, each with its name for the report; null: skip, with why. */
  required: ReadonlyArray<{ name: string; path: string | null; why?: string }>
  /** Every built file (dist/, less source maps) that must be in app.asar. */
  builtFiles: readonly string[]
  /**
   * Packages only development needs (package-lock's `dev: true`), by path and version, none of which
   * may be packed. The packager lays the production tree out afresh: where a production package's
   * own copy of a dependency (cross-spawn's which@2) is hoisted to a path the development tree uses
   * for another version (which@5), the packed copy's version tells the two apart.
   */
  devOnly: ReadonlyArray<{ path: string; version: string }>
  /** The ABI better-sqlite3 must be built for, or why that was not done. */
  sqliteAbi: { electronVersion: string; abi: number } | { skipped: string }
  budgetBytes: number
}

/** Top-level entries an app.asar may hold: the build output, production modules, the manifest. */
const ALLOWED_TOP = new Set(['dist', 'node_modules', 'package.json'])

/** The shared library each onnxruntime binding links, per platform. */
const ORT_LIBRARY: Record<OrtPlatform, string> = {
  linux: 'libonnxruntime.so.1',
  win32: 'onnxruntime.dll',
  darwin: 'libonnxruntime.1.dylib',
}

const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6/'
const SQLITE_NODE = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'

/** NODE_MODULE_VERSION of a V8-API addon, from its `node_register_module_v<ABI>` export. */
export function readAddonAbi(file: string): number | null {
  const match = /node_register_module_v(\d+)/.exec(readFileSync(file).toString('latin1'))
  return match?.[1] === undefined ? null : Number(match[1])
}

function dirBytes(target: string): number {
  const info = statSync(target)
  if (!info.isDirectory()) return info.size
  return readdirSync(target).reduce((sum, name) => sum + dirBytes(path.join(target, name)), 0)
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`

export function checkPackedApp(app: PackedApp): CheckResult[] {
  const results: CheckResult[] = []
  const report = (name: string, ok: boolean, detail: string): void => {
    results.push({ name, status: ok ? 'pass' : 'fail', detail })
  }
  const archive = path.join(app.resourcesDir, 'app.asar')
  const unpackedDir = `${archive}.unpacked`
  if (!existsSync(archive)) {
    report('app.asar exists', false, `no ${archive}`)
    return results
  }
  // listPackage gives '/dist/main/main.js' (or '\\dist\\...' on Windows): normalise to 'dist/main/main.js'.
  const entries = listPackage(archive, { isPack: false }).map((it) => it.replace(/\\/g, '/').replace(/^\//, ''))
  const entrySet = new Set(entries)
  report('app.asar exists', true, `${entries.length} entries`)

  for (const { name, path: entry, why } of app.required) {
    if (entry === null) results.push({ name, status: 'skip', detail: why ?? 'not expected' })
    else report(name, entrySet.has(entry), entrySet.has(entry) ? entry : `${entry} missing from app.asar`)
  }

  const missingBuilt = app.builtFiles.filter((file) => !entrySet.has(file))
  report('app.asar holds every built file', app.builtFiles.length > 0 && missingBuilt.length === 0,
    missingBuilt.length ? `missing: ${missingBuilt.slice(0, 5).join(', ')}` : `${app.builtFiles.length} files from dist/`)

  const manifest = JSON.parse(extractFile(archive, 'package.json').toString('utf8')) as { main?: string }
  report('package.json main is in app.asar', manifest.main !== undefined && entrySet.has(path.posix.normalize(manifest.main)),
    `main: ${manifest.main ?? '(none)'}`)

  const stray = entries.filter((it) => !ALLOWED_TOP.has(it.split('/')[0] ?? '') ||
    (it.startsWith('dist/') && !/^dist\/(main|renderer)(\/|$)/.test(it)) || it.endsWith('.map'))
  report('nothing from src-*, tests/, tools/ or source maps', stray.length === 0,
    stray.length ? `unexpected: ${stray.slice(0, 5).join(', ')}` : `top level: ${[...new Set(entries.map((it) => it.split('/')[0]))].join(', ')}`)

  const devPacked = app.devOnly.filter((it) => entrySet.has(it.path) && packedVersion(archive, it.path) === it.version).map((it) => `${it.path}@${it.version}`)
  report('no development-only packages', devPacked.length === 0,
    devPacked.length ? `packed: ${devPacked.slice(0, 5).join(', ')}` : `none of ${app.devOnly.length} packed`)

  const natives = entries.filter((it) => it.endsWith('.node'))
  const packedNatives = natives.filter((it) => !statFile(archive, it).unpacked || !existsSync(path.join(unpackedDir, it)))
  report('.node files are unpacked', natives.length >= 2 && packedNatives.length === 0,
    packedNatives.length ? `inside the archive: ${packedNatives.join(', ')}` : `${natives.length} in app.asar.unpacked`)

  const ortDir = `${ORT_BIN}${app.platform}/${app.arch}/`
  const ortNeeded = [`${ortDir}onnxruntime_binding.node`, `${ortDir}${ORT_LIBRARY[app.platform]}`]
  const ortMissing = ortNeeded.filter((it) => !existsSync(path.join(unpackedDir, it)))
  report(`onnxruntime-node ${app.platform}/${app.arch} binding and library unpacked`, ortMissing.length === 0,
    ortMissing.length ? `missing: ${ortMissing.join(', ')}` : ortNeeded.map((it) => path.posix.basename(it)).join(', '))

  const foreign = new Set(entries.filter((it) => it.startsWith(ORT_BIN) && it.split('/').length > 6 && !it.startsWith(ortDir))
    .map((it) => it.split('/').slice(4, 6).join('/')))
  report("no other platform's onnxruntime binaries", foreign.size === 0,
    foreign.size ? `also packed: ${[...foreign].join(', ')}` : `only ${app.platform}/${app.arch}`)

  const sqlite = path.join(unpackedDir, SQLITE_NODE)
  const sqliteThere = existsSync(sqlite)
  report("better-sqlite3's .node unpacked", sqliteThere, sqliteThere ? SQLITE_NODE : `${SQLITE_NODE} missing`)

  const abi = sqliteThere ? readAddonAbi(sqlite) : null
  if ('skipped' in app.sqliteAbi) {
    results.push({ name: "better-sqlite3 built for Electron's ABI", status: 'skip',
      detail: `${app.sqliteAbi.skipped}; the packed copy is ABI ${abi ?? 'unknown'}` })
  } else {
    const want = app.sqliteAbi
    report("better-sqlite3 built for Electron's ABI", abi === want.abi,
      `ABI ${abi ?? 'unknown'}, Electron ${want.electronVersion} wants ${want.abi}`)
  }

  const bytes = dirBytes(archive) + (existsSync(unpackedDir) ? dirBytes(unpackedDir) : 0)
  report('unpacked size within budget', bytes <= app.budgetBytes,
    `${mib(bytes)} (app.asar ${mib(dirBytes(archive))}) of a ${mib(app.budgetBytes)} budget`)
  return results
}

type FuseName = keyof typeof FuseV1Options

/** The fuses the packed Electron must carry: electron-builder.yml's electronFuses, by @electron/fuses' names. */
export const REQUIRED_FUSES: Readonly<Partial<Record<FuseName, boolean>>> = {
  RunAsNode: false,
  EnableNodeOptionsEnvironmentVariable: false,
  EnableNodeCliInspectArguments: false,
  EnableCookieEncryption: true,
  EnableEmbeddedAsarIntegrityValidation: true,
  OnlyLoadAppFromAsar: true,
}

/** A fuse's byte in the wire (@electron/fuses' FuseState, which it does not export): '1' on, '0' off, 'r' removed. */
const FUSE_ON = 0x31
const FUSE_OFF = 0x30

/** Reads the fuse wire from the packed executable (Hearth.app on macOS) and compares it with REQUIRED_FUSES. */
export async function checkFuses(executable: string, required = REQUIRED_FUSES): Promise<CheckResult> {
  const name = 'Electron fuses set in the packed binary'
  let wire: Record<number, number>
  try {
    wire = (await getCurrentFuseWire(executable)) as unknown as Record<number, number>
  } catch (err) {
    return { name, status: 'fail', detail: `${path.basename(executable)}: ${(err as Error).message}` }
  }
  const wrong: string[] = []
  const right: string[] = []
  for (const [fuse, on] of Object.entries(required) as [FuseName, boolean][]) {
    const state = wire[FuseV1Options[fuse]]
    const found = state === FUSE_ON ? 'on' : state === FUSE_OFF ? 'off' : state === undefined ? 'missing' : String.fromCharCode(state)
    if (found === (on ? 'on' : 'off')) right.push(`${fuse} ${found}`)
    else wrong.push(`${fuse} is ${found}, wants ${on ? 'on' : 'off'}`)
  }
  return wrong.length === 0
    ? { name, status: 'pass', detail: right.join(', ') }
    : { name, status: 'fail', detail: wrong.join('; ') }
}

/** One line per result and the closing count line the test runner reads. */
export function formatResults(label: string, results: readonly CheckResult[]): string {
  const lines = results.map((it) => `${it.status.toUpperCase().padEnd(4)} ${it.name}: ${it.detail}`)
  const count = (status: CheckResult['status']): number => results.filter((it) => it.status === status).length
  lines.push(`${label}: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`)
  return lines.join('\n')
}

/** The version a packed package states; the dev version when it states none (a bare folder is taken for the dev package). */
function packedVersion(archive: string, packagePath: string): string | null {
  try {
    const manifest = JSON.parse(extractFile(archive, `${packagePath}/package.json`).toString('utf8')) as { version?: unknown }
    return typeof manifest.version === 'string' ? manifest.version : null
  } catch {
    return null
  }
}
