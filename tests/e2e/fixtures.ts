// Fixtures for browser-mode tests: a `npm run serve` of our own per worker, with its own data.

import { test as base, expect, type Page } from '@playwright/test'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'

export interface HearthServer {
  url: string
  dataDir: string
  modelsDir: string
  process: ChildProcess
}

/** Starts browser mode on a free port and resolves with the URL it prints as its first line. */
export async function startHearth(dirs: { dataDir: string; modelsDir: string }, extraArgs: string[] = []): Promise<HearthServer> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src-main/serve/main.ts', '--port', '0', '--data-dir', dirs.dataDir, '--models-dir', dirs.modelsDir, ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'] },
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

export const test = base.extend<{ app: Page }, { hearth: HearthServer }>({
  hearth: [
    async ({}, use) => {
      const root = await mkdtemp(path.join(os.tmpdir(), 'hearth-e2e-'))
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
    await use(page)
    expect(violations, 'the page broke its Content-Security-Policy').toEqual([])
  },
})

export { expect }
