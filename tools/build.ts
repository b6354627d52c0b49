// Builds the renderer (Vite) and the Electron entries (esbuild); `--if-stale` skips fresh parts.
// Usage: tsx tools/build.ts [--if-stale] [renderer] [main]

import { build as esbuild } from 'esbuild'
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build as viteBuild } from 'vite'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

interface Part {
  name: 'renderer' | 'main'
  sources: string[]
  output: string
  build(): Promise<void>
}

const parts: Part[] = [
  {
    name: 'renderer',
    sources: ['src-renderer', 'src-shared', 'vite.config.ts', 'svelte.config.js', 'package-lock.json'],
    output: 'dist/renderer/index.html',
    async build() {
      await viteBuild({ configFile: path.join(root, 'vite.config.ts'), logLevel: 'warn' })
    },
  },
  {
    name: 'main',
    sources: ['src-main', 'src-shared', 'package-lock.json'],
    output: 'dist/main/main.js',
    async build() {
      const common = {
        bundle: true,
        platform: 'node' as const,
        target: 'node20',
        sourcemap: true,
        // Native and Electron modules load at run time from node_modules.
        external: ['electron', 'better-sqlite3', 'onnxruntime-node', 'onnxruntime-common'],
        logLevel: 'warning' as const,
        absWorkingDir: root,
      }
      await esbuild({
        ...common,
        entryPoints: {
          main: 'src-main/electron/main.ts',
          convert: 'src-main/models/gguf/convert-main.ts',
          extract: 'src-main/documents/extract-main.ts',
          ...engineEntry(),
        },
        outdir: 'dist/main',
        format: 'esm',
        // ESM bundles of CommonJS dependencies need a require of their own.
        banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      })
      await esbuild({
        ...common,
        entryPoints: ['src-main/electron/preload.ts'],
        outfile: 'dist/main/preload.cjs',
        format: 'cjs',
        external: ['electron'],
      })
    },
  },
]

/** The engine process entry, once the engine exists in this tree. */
function engineEntry(): Record<string, string> {
  const entry = 'src-main/engine/main.ts'
  return existsSync(path.join(root, entry)) ? { engine: entry } : {}
}

function newestMtime(target: string): number {
  const full = path.join(root, target)
  if (!existsSync(full)) return 0
  const info = statSync(full)
  if (!info.isDirectory()) return info.mtimeMs
  let newest = info.mtimeMs
  for (const entry of readdirSync(full)) newest = Math.max(newest, newestMtime(path.join(target, entry)))
  return newest
}

export function isStale(part: Part): boolean {
  const output = path.join(root, part.output)
  if (!existsSync(output)) return true
  const built = statSync(output).mtimeMs
  return part.sources.some((source) => newestMtime(source) > built)
}

export async function buildParts(names: Part['name'][], ifStale: boolean): Promise<void> {
  for (const part of parts) {
    if (!names.includes(part.name)) continue
    if (ifStale && !isStale(part)) continue
    const started = performance.now()
    await part.build()
    console.log(`built ${part.name} in ${Math.round(performance.now() - started)} ms`)
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values, positionals } = parseArgs({ options: { 'if-stale': { type: 'boolean' } }, allowPositionals: true })
  const names = (positionals.length ? positionals : ['renderer', 'main']) as Part['name'][]
  await buildParts(names, values['if-stale'] ?? false)
}
