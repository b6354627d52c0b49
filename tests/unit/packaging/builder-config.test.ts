// electron-builder.yml: each target keeps only its own onnxruntime binaries and the same app files.

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { load } from 'js-yaml'
import { Minimatch } from 'minimatch'
import { REQUIRED_FUSES } from '../../../tools/dist-check.ts'

interface PlatformConfig {
  files: string[]
  target: unknown
}

interface BuilderConfig {
  asarUnpack: string[]
  npmRebuild: boolean
  files?: unknown
  publish: { provider: string }
  electronFuses?: Record<string, boolean>
  linux: PlatformConfig
  win: PlatformConfig
  mac: PlatformConfig
}

const config = load(readFileSync('electron-builder.yml', 'utf8')) as BuilderConfig

/** Every binary onnxruntime-node 1.30 ships, as electron-builder sees them (relative to the app). */
const ORT_FILES: Record<string, string[]> = {
  'darwin/arm64': ['libonnxruntime.1.30.0.dylib', 'libonnxruntime.1.dylib', 'onnxruntime_binding.node'],
  'linux/arm64': ['libonnxruntime.so.1', 'onnxruntime_binding.node'],
  'linux/x64': ['libonnxruntime.so.1', 'onnxruntime_binding.node'],
  'win32/arm64': ['DirectML.dll', 'dxcompiler.dll', 'dxil.dll', 'onnxruntime.dll', 'onnxruntime_binding.node'],
  'win32/x64': ['DirectML.dll', 'dxcompiler.dll', 'dxil.dll', 'onnxruntime.dll', 'onnxruntime_binding.node'],
}
const allOrtFiles = Object.entries(ORT_FILES).flatMap(([dir, names]) =>
  names.map((name) => `node_modules/onnxruntime-node/bin/napi-v6/${dir}/${name}`))

/**
 * electron-builder's node_modules filter: '**\/*' then the exclusions of `files`, in order, with
 * ${arch} expanded (fileMatcher.ts getNodeModuleFileMatcher + util/filter.ts minimatchAll).
 */
function keptModuleFiles(files: string[], arch: string, candidates: string[]): string[] {
  const patterns = ['**/*', ...files.filter((it) => it.startsWith('!'))]
    .map((it) => new Minimatch(it.replaceAll('${arch}', arch), { dot: true }))
  return candidates.filter((file) => {
    let match = false
    for (const pattern of patterns) {
      if (match !== pattern.negate) continue
      match = pattern.match(file)
    }
    return match
  })
}

const ortDirs = (kept: string[]): string[] =>
  [...new Set(kept.map((it) => it.split('/').slice(4, 6).join('/')))].sort()

describe('electron-builder.yml files', () => {
  const targets = [
    ['linux', 'x64', config.linux],
    ['linux', 'arm64', config.linux],
    ['win32', 'x64', config.win],
    ['win32', 'arm64', config.win],
    ['darwin', 'arm64', config.mac],
  ] as const

  for (const [platform, arch, platformConfig] of targets) {
    it(`keeps only ${platform}/${arch} of onnxruntime-node for a ${platform} ${arch} build`, () => {
      const kept = keptModuleFiles(platformConfig.files, arch, allOrtFiles)
      assert.deepEqual(ortDirs(kept), [`${platform}/${arch}`])
      assert.equal(kept.length, ORT_FILES[`${platform}/${arch}`]?.length)
    })
  }

  it('gives every platform the same app files and exclusions before its own binaries', () => {
    const common = (files: string[]): string[] => files.filter((it) => !it.includes('onnxruntime-node/bin/'))
    assert.deepEqual(common(config.win.files), common(config.linux.files))
    assert.deepEqual(common(config.mac.files), common(config.linux.files))
    assert.ok(common(config.linux.files).includes('dist/main/**'))
    assert.ok(common(config.linux.files).includes('dist/renderer/**'))
  })

  it('has no top-level files list, which electron-builder 26 would match as a separate set', () => {
    assert.equal(config.files, undefined)
  })

  it('drops better-sqlite3 sources and keeps its binding', () => {
    const sqlite = ['deps/sqlite3/sqlite3.c', 'src/better_sqlite3.cpp', 'build/Release/obj/x.o',
      'build/Release/test_extension.node', 'build/Release/better_sqlite3.node', 'lib/index.js']
      .map((it) => `node_modules/better-sqlite3/${it}`)
    assert.deepEqual(keptModuleFiles(config.linux.files, 'x64', sqlite), [
      'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'node_modules/better-sqlite3/lib/index.js',
    ])
  })
})

describe('electron-builder.yml packaging', () => {
  it('unpacks every native binding and the shared libraries beside them', () => {
    const unpacked = (file: string): boolean => config.asarUnpack.some((it) => new Minimatch(it, { dot: true }).match(file))
    for (const file of allOrtFiles) assert.ok(unpacked(file), file)
    assert.ok(unpacked('node_modules/better-sqlite3/build/Release/better_sqlite3.node'))
    assert.ok(!unpacked('dist/main/main.js'))
  })

  it('rebuilds native modules for Electron when packaging and configures a publish provider', () => {
    assert.equal(config.npmRebuild, true)
    assert.equal(config.publish.provider, 'github')
  })
})

describe('electron-builder.yml electronFuses', () => {
  it('sets every fuse dist:check requires, the same way (electron-builder names them lowerCamelCase)', () => {
    const wanted = Object.fromEntries(Object.entries(REQUIRED_FUSES).map(([name, on]) => [name[0]!.toLowerCase() + name.slice(1), on]))
    assert.deepEqual(config.electronFuses, wanted)
  })
})
