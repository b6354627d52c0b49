// Installs the peers (tools/bench/peers: node-llama-cpp, transformers.js) on demand, outside the
// app's dependencies: `npm ci` of that folder's own lock with optional packages left out (the
// CUDA and Vulkan builds of llama.cpp are ~600 MB), then only this platform's CPU binaries
// (llama.cpp, and sharp, which transformers.js loads at import) at the versions the lock pins.

import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const PEERS_DIR = fileURLToPath(new URL('./peers/', import.meta.url))
const STAMP = path.join(PEERS_DIR, 'node_modules', '.hearth-peers-installed')

interface LockPackage {
  version?: string
  optional?: boolean
  os?: string[]
  cpu?: string[]
  libc?: string[]
}

export interface Platform {
  os: string
  cpu: string
  libc: 'glibc' | 'musl' | null
}

/** Builds for accelerators the CPU benchmark never uses. */
const GPU_BUILD = /cuda|vulkan/

/**
 * The optional packages of `lock` that this platform needs: top-level native binaries whose
 * os/cpu/libc match, GPU-only llama.cpp builds excepted. Returns `name@version` specs.
 */
export function platformPackages(lock: { packages?: Record<string, LockPackage> }, p: Platform): string[] {
  const specs: string[] = []
  for (const [key, pkg] of Object.entries(lock.packages ?? {})) {
    if (!pkg.optional || !pkg.version || !key.startsWith('node_modules/')) continue
    const name = key.slice('node_modules/'.length)
    if (name.includes('node_modules/') || GPU_BUILD.test(name)) continue
    if (!pkg.os || !pkg.cpu) continue
    if (!pkg.os.includes(p.os) || !pkg.cpu.includes(p.cpu)) continue
    if (pkg.libc && (p.libc === null || !pkg.libc.includes(p.libc))) continue
    specs.push(`${name}@${pkg.version}`)
  }
  return specs.sort()
}

export function currentPlatform(): Platform {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  const libc = process.platform !== 'linux' ? null : report?.header?.glibcVersionRuntime ? 'glibc' : 'musl'
  return { os: process.platform, cpu: process.arch, libc }
}

function npm(args: string[]): void {
  const env = {
    ...process.env,
    // node-llama-cpp's postinstall would fetch or build llama.cpp; the prebuilt binary package
    // installed below is all it needs. onnxruntime-node's would fetch CUDA.
    NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true',
    ONNXRUNTIME_NODE_INSTALL: 'skip',
  }
  const result = spawnSync('npm', [...args, '--prefix', PEERS_DIR, '--no-audit', '--no-fund'], {
    env,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  })
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed in ${PEERS_DIR} (exit ${result.status})`)
}

/** Installs the peers when their lock changed since the last install; returns quickly otherwise. */
export function ensurePeers(log: (line: string) => void): void {
  const lockText = readFileSync(path.join(PEERS_DIR, 'package-lock.json'), 'utf8')
  const hash = createHash('sha256').update(lockText).digest('hex')
  if (existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash) return
  log(`installing the peers into ${PEERS_DIR} (once; about 550 MB)`)
  npm(['ci', '--omit=optional'])
  const specs = platformPackages(JSON.parse(lockText), currentPlatform())
  // One command for all of them: a later `npm install --no-save` would prune the earlier ones.
  if (specs.length > 0) npm(['install', '--no-save', '--omit=optional', ...specs])
  writeFileSync(STAMP, hash)
}
