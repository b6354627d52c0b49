// `npm test`: every suite in turn, then one line counting them all: N passed, N failed, N skipped.
// Usage: tsx tools/test.ts [typecheck|lint|unit|e2e|electron|dist ...]

import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeBrowser, findBrowser } from './browser.ts'
import { buildParts } from './build.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const results = path.join(root, 'test-results')

interface Counts {
  passed: number
  failed: number
  skipped: number
}

interface Suite {
  name: string
  run(): Promise<Counts>
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const tee = (chunk: Buffer, stream: NodeJS.WriteStream) => {
      output += chunk.toString()
      stream.write(chunk)
    }
    child.stdout.on('data', (chunk: Buffer) => tee(chunk, process.stdout))
    child.stderr.on('data', (chunk: Buffer) => tee(chunk, process.stderr))
    child.on('close', (code) => resolve({ code: code ?? 1, output }))
  })
}

const bin = (name: string) => path.join(root, 'node_modules', '.bin', name)

/** A check with no test count of its own counts as one test. */
async function check(command: string, args: string[]): Promise<Counts> {
  const { code } = await run(command, args)
  return code === 0 ? { passed: 1, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0 }
}

function findTests(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(suffix))
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort()
}

function tapCount(tap: string, key: string): number {
  return Number(tap.match(new RegExp(`^# ${key} (\\d+)$`, 'm'))?.[1] ?? 0)
}

interface PlaywrightSuite {
  suites?: PlaywrightSuite[]
  specs?: { title: string; tests: { annotations: { type: string; description?: string }[] }[] }[]
}
interface PlaywrightReport extends PlaywrightSuite {
  stats: { expected: number; unexpected: number; skipped: number; flaky: number }
}

/** Each skipped test's title and stated reason, so a skip is never silent. */
function skipReasons(suite: PlaywrightSuite): string[] {
  const own = (suite.specs ?? []).flatMap((spec) =>
    spec.tests.flatMap((t) => t.annotations.filter((a) => a.type === 'skip').map((a) => `${spec.title}: ${a.description ?? 'no reason given'}`)),
  )
  return [...own, ...(suite.suites ?? []).flatMap(skipReasons)]
}

async function playwright(project: 'e2e' | 'electron'): Promise<Counts> {
  if (project === 'e2e') {
    const browser = findBrowser()
    // One line saying what to install, rather than every test failing to launch.
    if (browser.source === 'none') {
      console.error(browser.reason)
      return { passed: 0, failed: 1, skipped: 0 }
    }
    console.log(`e2e browser: ${describeBrowser(browser)}`)
  }
  await buildParts(['renderer', 'main'], true)
  const report = path.join(results, `${project}.json`)
  const { code } = await run(bin('playwright'), ['test', '--project', project], { HEARTH_PW_JSON: report })
  if (!existsSync(report)) return { passed: 0, failed: 1, skipped: 0 }
  const parsed = JSON.parse(readFileSync(report, 'utf8')) as PlaywrightReport
  const { stats } = parsed
  for (const reason of skipReasons(parsed)) console.log(`  skipped: ${reason}`)
  const counts = { passed: stats.expected + stats.flaky, failed: stats.unexpected, skipped: stats.skipped }
  // A run that failed outside any test (config, global setup) still fails the suite.
  if (code !== 0 && counts.failed === 0) counts.failed = 1
  return counts
}

const suites: Suite[] = [
  { name: 'typecheck', run: () => check('npm', ['run', '-s', 'typecheck']) },
  { name: 'lint', run: () => check(bin('eslint'), ['.']) },
  {
    name: 'unit',
    async run() {
      const files = findTests(path.join(root, 'tests/unit'), '.test.ts')
      const tap = path.join(results, 'unit.tap')
      const { code } = await run(process.execPath, [
        '--import', 'tsx', '--test', '--test-concurrency=2',
        '--test-reporter=spec', '--test-reporter-destination=stdout',
        '--test-reporter=tap', `--test-reporter-destination=${tap}`,
        ...files,
      ])
      const text = existsSync(tap) ? readFileSync(tap, 'utf8') : ''
      const counts = {
        passed: tapCount(text, 'pass'),
        failed: tapCount(text, 'fail') + tapCount(text, 'cancelled'),
        skipped: tapCount(text, 'skipped') + tapCount(text, 'todo'),
      }
      if (code !== 0 && counts.failed === 0) counts.failed = 1
      return counts
    },
  },
  { name: 'e2e', run: () => playwright('e2e') },
  { name: 'electron', run: () => playwright('electron') },
]

if (existsSync(path.join(root, 'tools/dist.ts'))) {
  suites.push({
    name: 'dist',
    async run() {
      const { code, output } = await run('npm', ['run', '-s', 'dist:check'])
      const match = output.match(/^dist:check: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?/m)
      if (!match) return { passed: 0, failed: 1, skipped: 0 }
      const counts = { passed: Number(match[1]), failed: Number(match[2]), skipped: Number(match[3] ?? 0) }
      if (code !== 0 && counts.failed === 0) counts.failed = 1
      return counts
    },
  })
}

const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !suites.some((suite) => suite.name === name))
if (unknown.length) {
  console.error(`Unknown suite: ${unknown.join(', ')}. Suites: ${suites.map((s) => s.name).join(', ')}`)
  process.exit(2)
}

mkdirSync(results, { recursive: true })
const total: Counts = { passed: 0, failed: 0, skipped: 0 }
const lines: string[] = []
for (const suite of suites) {
  if (wanted.length && !wanted.includes(suite.name)) continue
  console.log(`\n━━ ${suite.name} ━━`)
  const started = performance.now()
  // A suite that cannot even start (a broken build, say) fails as one test; the rest still run.
  const counts = await suite.run().catch((err: unknown): Counts => {
    console.error(`${suite.name} could not run: ${err instanceof Error ? err.message : String(err)}`)
    return { passed: 0, failed: 1, skipped: 0 }
  })
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  lines.push(`${suite.name.padEnd(10)} ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${seconds}s)`)
  total.passed += counts.passed
  total.failed += counts.failed
  total.skipped += counts.skipped
}

console.log(`\n${lines.join('\n')}`)
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`)
process.exit(total.failed > 0 ? 1 : 0)
