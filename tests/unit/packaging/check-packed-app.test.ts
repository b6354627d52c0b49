// checkPackedApp: passes a well-packed app and names what is wrong in a badly packed one.

import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { createPackageWithOptions } from '@electron/asar'
import { checkPackedApp, formatResults } from '../../../tools/dist-check.ts'
import type { CheckResult, PackedApp } from '../../../tools/dist-check.ts'

const temp = mkdtempSync(path.join(os.tmpdir(), 'hearth-check-test-'))
after(() => rmSync(temp, { recursive: true, force: true }))

const ORT = 'node_modules/onnxruntime-node/bin/napi-v6'
const GOOD: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'hearth', main: 'dist/main/main.js' }),
  'dist/main/main.js': 'export {}',
  'dist/main/preload.cjs': '',
  'dist/renderer/index.html': '<!doctype html>',
  [`${ORT}/linux/x64/onnxruntime_binding.node`]: 'binding',
  [`${ORT}/linux/x64/libonnxruntime.so.1`]: 'library',
  'node_modules/better-sqlite3/build/Release/better_sqlite3.node': '\0node_register_module_v150\0',
}

let packs = 0
/** Packs `files` into <dir>/app.asar, unpacking what `unpack` matches (by base name), as electron-builder does. */
async function pack(files: Record<string, string>, unpack = '{*.node,*.so.1}'): Promise<string> {
  const dir = path.join(temp, `pack-${packs++}`)
  const src = path.join(dir, 'src')
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(src, name)), { recursive: true })
    writeFileSync(path.join(src, name), text)
  }
  const out = (await createPackageWithOptions(src, path.join(dir, 'app.asar'), { unpack })) as WriteStream
  // The promise settles once the last write is queued, not written (asar ends its stream without
  // waiting): reading the archive before the stream closes once found package.json still blank.
  if (!out.closed) await once(out, 'close')
  return dir
}

function expect(resourcesDir: string, overrides: Partial<PackedApp> = {}): PackedApp {
  return {
    resourcesDir,
    platform: 'linux',
    arch: 'x64',
    required: [{ name: 'main', path: 'dist/main/main.js' }, { name: 'engine', path: null, why: 'no engine yet' }],
    builtFiles: ['dist/main/main.js', 'dist/main/preload.cjs', 'dist/renderer/index.html'],
    devOnly: [{ path: 'node_modules/vite', version: '7.0.0' }, { path: 'node_modules/which', version: '5.0.0' }],
    sqliteAbi: { electronVersion: '45.5.0', abi: 150 },
    budgetBytes: 2 ** 20,
    ...overrides,
  }
}

const failed = (results: CheckResult[]): string[] => results.filter((it) => it.status === 'fail').map((it) => it.name)
const find = (results: CheckResult[], name: string): CheckResult | undefined => results.find((it) => it.name === name)

describe('checkPackedApp', () => {
  it('passes a well-packed app and skips what it was told to', async () => {
    const results = checkPackedApp(expect(await pack(GOOD)))
    assert.deepEqual(failed(results), [])
    assert.equal(find(results, 'engine')?.status, 'skip')
  })

  it('fails on sources, tests and tools in the archive', async () => {
    const results = checkPackedApp(expect(await pack({ ...GOOD, 'tests/unit/a.test.ts': '', 'tools/dist.ts': '' })))
    assert.deepEqual(failed(results), ['nothing from src-*, tests/, tools/ or source maps'])
    assert.match(find(results, 'nothing from src-*, tests/, tools/ or source maps')?.detail ?? '', /tests\/unit\/a\.test\.ts/)
  })

  it("fails on another platform's onnxruntime binaries and names them", async () => {
    const results = checkPackedApp(expect(await pack({ ...GOOD, [`${ORT}/win32/x64/onnxruntime.dll`]: 'dll' })))
    assert.deepEqual(failed(results), ["no other platform's onnxruntime binaries"])
    assert.match(find(results, "no other platform's onnxruntime binaries")?.detail ?? '', /win32\/x64/)
  })

  it('fails when a .node file is packed inside the archive', async () => {
    const results = checkPackedApp(expect(await pack(GOOD, '*.so.1')))
    assert.ok(failed(results).includes('.node files are unpacked'))
  })

  it('fails on a missing built file and on a development-only package', async () => {
    const files = { ...GOOD, 'node_modules/vite/package.json': '{"version":"7.0.0"}' }
    const results = checkPackedApp(expect(await pack(files), { builtFiles: [...expect('').builtFiles, 'dist/renderer/assets/a.js'] }))
    assert.deepEqual(failed(results), ['app.asar holds every built file', 'no development-only packages'])
  })

  it("passes a production package's own version laid out where the development tree has another", async () => {
    // cross-spawn's which@2, hoisted by the packager to where the dev tools' which@5 lies in node_modules.
    const results = checkPackedApp(expect(await pack({ ...GOOD, 'node_modules/which/package.json': '{"version":"2.0.2"}' })))
    assert.deepEqual(failed(results), [])
    const dev = checkPackedApp(expect(await pack({ ...GOOD, 'node_modules/which/package.json': '{"version":"5.0.0"}' })))
    assert.deepEqual(failed(dev), ['no development-only packages'])
    assert.match(find(dev, 'no development-only packages')?.detail ?? '', /node_modules\/which@5\.0\.0/)
  })

  it("fails when better-sqlite3 was built for another ABI, and skips the check when told why", async () => {
    const dir = await pack(GOOD)
    assert.deepEqual(failed(checkPackedApp(expect(dir, { sqliteAbi: { electronVersion: '40.0.0', abi: 143 } }))),
      ["better-sqlite3 built for Electron's ABI"])
    const skipped = find(checkPackedApp(expect(dir, { sqliteAbi: { skipped: 'offline' } })), "better-sqlite3 built for Electron's ABI")
    assert.equal(skipped?.status, 'skip')
    assert.match(skipped?.detail ?? '', /offline.*ABI 150/)
  })

  it('fails when the app is over its size budget', async () => {
    assert.deepEqual(failed(checkPackedApp(expect(await pack(GOOD), { budgetBytes: 100 }))), ['unpacked size within budget'])
  })

  it('reports a missing archive as one failure', () => {
    assert.deepEqual(failed(checkPackedApp(expect(path.join(temp, 'nowhere')))), ['app.asar exists'])
  })
})

describe('formatResults', () => {
  it('ends with the count line the test runner reads', () => {
    const text = formatResults('dist:check', [
      { name: 'a', status: 'pass', detail: '' },
      { name: 'b', status: 'fail', detail: 'why' },
      { name: 'c', status: 'skip', detail: '' },
    ])
    assert.equal(text.split('\n').at(-1), 'dist:check: 1 passed, 1 failed, 1 skipped')
    assert.match(text, /^FAIL b: why$/m)
  })
})
