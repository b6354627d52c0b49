// `npm run bench -- gpu --prepare`: everything a GPU machine with no internet and no Node needs to
// run the GPU check, in .gpu-kit/ (git-ignored, carried): the Vulkan loader as Debian's package,
// and one archive holding this machine's node, the bench bundled into one file, and onnxruntime-node
// with only its linux-x64 binaries. tools/bench/gpu-run.sh unpacks and runs it there.

import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'

/** What a run may carry across: the working tree plus carried paths (the device tool's limit). */
export const CARRY_LIMIT = 64 * 2 ** 20

/** Debian's amd64 lists in their own folder, so a machine of another architecture can fetch them too. */
const APT = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', '-oDir::State::Lists=/tmp/hearth-amd64-lists']

export async function prepareGpuKit(root: string, log: (line: string) => void): Promise<void> {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error('the kit carries this machine\'s node and onnxruntime binaries: prepare it on linux-x64')
  const kit = path.join(root, '.gpu-kit')
  const stage = path.join(root, '.cache', 'gpu-kit-stage')
  rmSync(kit, { recursive: true, force: true })
  rmSync(stage, { recursive: true, force: true })
  mkdirSync(kit, { recursive: true })
  mkdirSync(path.join(stage, 'bin'), { recursive: true })

  log('downloading libvulkan1 (Debian, amd64)')
  mkdirSync('/tmp/hearth-amd64-lists/partial', { recursive: true })
  execFileSync('apt-get', [...APT, 'update'], { stdio: 'ignore' })
  execFileSync('apt-get', [...APT, 'download', 'libvulkan1'], { cwd: kit, stdio: 'ignore' })

  log('bundling the check (runGpuBench, what npm run bench -- gpu runs) into one file')
  const { build } = await import('esbuild')
  await build({
    stdin: {
      contents: [
        "import { runGpuBench } from './tools/bench/gpu.ts'",
        'runGpuBench(process.argv.slice(2)).catch((err) => { console.error(err instanceof Error ? err.message : err); process.exitCode = 1 })',
      ].join('\n'),
      resolveDir: root,
      sourcefile: 'gpu-main.ts',
      loader: 'ts',
    },
    outfile: path.join(stage, 'bench.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // onnxruntime-node finds its native binding by a path relative to its own files.
    external: ['onnxruntime-node', 'esbuild'],
    banner: { js: "import { createRequire as hearthRequire } from 'node:module'; const require = hearthRequire(import.meta.url);" },
    logLevel: 'warning',
  })

  const modules = path.join(root, 'node_modules')
  const ort = path.join(stage, 'node_modules', 'onnxruntime-node')
  for (const part of ['package.json', 'dist', path.join('bin', 'napi-v6', 'linux', 'x64')]) {
    cpSync(path.join(modules, 'onnxruntime-node', part), path.join(ort, part), { recursive: true })
  }
  cpSync(path.join(modules, 'onnxruntime-common'), path.join(stage, 'node_modules', 'onnxruntime-common'), { recursive: true })
  cpSync(process.execPath, path.join(stage, 'bin', 'node'))

  log('compressing node, onnxruntime and the bundle (xz, a minute or two)')
  execFileSync('tar', ['-cJf', path.join(kit, 'kit.tar.xz'), '-C', stage, '.'], { env: { ...process.env, XZ_OPT: '-6 -T2' } })
  rmSync(stage, { recursive: true, force: true })

  const kitBytes = folderBytes(kit)
  const tree = execFileSync('git', ['ls-files', '-z', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean)
  const treeBytes = tree.reduce((n, f) => n + fileBytes(path.join(root, f)), 0)
  for (const f of readdirSync(kit)) log(`  .gpu-kit/${f}: ${mib(fileBytes(path.join(kit, f)))}`)
  log(`the working tree ${mib(treeBytes)} + .gpu-kit ${mib(kitBytes)} = ${mib(treeBytes + kitBytes)} of the ${mib(CARRY_LIMIT)} a run carries`)
  if (treeBytes + kitBytes > CARRY_LIMIT) throw new Error('too large to carry: see tools/bench/README.md, "GPU check"')
}

function fileBytes(file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0 // listed by git but deleted in the working tree
  }
}

function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + fileBytes(path.join(dir, f)), 0)
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`
}
