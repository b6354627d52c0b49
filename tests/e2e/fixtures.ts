// Fixtures for browser-mode tests: a `npm run serve` of our own per worker, with its own data and models.

import { test as base, expect, type Page } from '@playwright/test'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { buildModel, type BuildOptions } from '../../tools/model-builder/build-model.ts'

export interface HearthServer {
  url: string
  dataDir: string
  modelsDir: string
  process: ChildProcess
}

/**
 * Starts browser mode on a free port and resolves with the URL it prints as its first line; `env`
 * adds to its environment (a fake HOME, for the models other apps keep).
 */
export async function startHearth(dirs: { dataDir: string; modelsDir: string }, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<HearthServer> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src-main/serve/main.ts', '--port', '0', '--data-dir', dirs.dataDir, '--models-dir', dirs.modelsDir, ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  )
  const lines = createInterface({ input: child.stdout! })
  const url = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before printing its URL`)))
  })
  lines.on('line', (line) => process.stdout.write(`[serve] ${line}\n`))
  return { url, ...dirs, process: child }
}

export async function stopHearth(server: HearthServer): Promise<void> {
  if (server.process.exitCode !== null) return
  const exited = new Promise((resolve) => server.process.once('exit', resolve))
  server.process.kill('SIGTERM')
  await exited
}

/** The model folders each worker's models directory starts with, by folder name; 'invalid' is one without weights. */
export type ModelSet = Record<string, Partial<BuildOptions> | 'invalid'>

/**
 * The builder's tiny random-weight model. Its replies never end by themselves (endless), only at
 * max tokens, and its 262,144-token context leaves room for LONG_REPLY (ui.ts): with drafts from
 * its own looping text it decodes thousands of tokens a second, so a 30,000-token reply could end
 * 10-18 s after it was sent, before a slow run of a test reached its Stop.
 */
export const CHAT_MODEL: ModelSet = { 'tiny-chat': { shape: 'tiny', contextLength: 262_144, endless: true, seed: 7 } }

export const test = base.extend<{ app: Page }, { hearth: HearthServer; models: ModelSet }>({
  models: [CHAT_MODEL, { scope: 'worker', option: true }],
  hearth: [
    async ({ models }, use) => {
      const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-e2e-'))
      for (const [name, options] of Object.entries(models)) {
        const dir = path.join(root, 'models', name)
        if (options !== 'invalid') await buildModel(dir, options)
        else {
          await mkdir(dir, { recursive: true })
          await writeFile(path.join(dir, 'config.json'), '{"model_type": "llama"}')
        }
      }
      const server = await startHearth({ dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') })
      await use(server)
      await stopHearth(server)
      await rm(root, { recursive: true, force: true })
    },
    { scope: 'worker' },
  ],
  app: async ({ page, hearth }, use) => {
    const violations: string[] = []
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text())
    })
    await page.goto(hearth.url)
    // The app has loaded its settings, models and conversation list: tests that count or read
    // them start from what is stored, not from an empty list still loading.
    await expect(page.getByRole('main')).toHaveAttribute('aria-busy', 'false')
    await use(page)
    expect(violations, 'the page broke its Content-Security-Policy').toEqual([])
  },
})

export { expect }
