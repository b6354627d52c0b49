// `npm run screenshots`: the published screenshots (docs/screenshots/), every main view in light and
// dark at 800, 1280 and 1600 px wide, taken by the screenshots e2e spec in browser mode.

import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeBrowser, findBrowser } from './browser.ts'
import { buildParts } from './build.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const out = path.join(root, 'docs', 'screenshots')

const browser = findBrowser()
if (browser.source === 'none') {
  console.error(browser.reason)
  process.exit(1)
}
console.log(`browser: ${describeBrowser(browser)}`)
await buildParts(['renderer', 'main'], true)
// The set is replaced whole: a view that is no longer shot leaves no stale picture behind.
mkdirSync(out, { recursive: true })
for (const file of readdirSync(out).filter((f) => f.endsWith('.png'))) rmSync(path.join(out, file))
const run = spawnSync(path.join(root, 'node_modules', '.bin', 'playwright'), ['test', '--project=e2e', 'screenshots.spec.ts', '--output', path.join(root, 'test-results', 'screenshots-run')], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, HEARTH_SCREENSHOTS: out },
})
if (run.status !== 0) process.exit(run.status ?? 1)
const taken = readdirSync(out).filter((f) => f.endsWith('.png'))
console.log(`${taken.length} screenshots in ${path.relative(root, out)}/`)
