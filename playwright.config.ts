// Playwright: e2e tests drive the real UI in browser mode; electron tests drive the desktop app.

import { existsSync } from 'node:fs'
import { defineConfig } from '@playwright/test'

/** System Chromium (Debian's) unless HEARTH_CHROMIUM names another; Playwright's own otherwise. */
const chromium = process.env.HEARTH_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync)

export default defineConfig({
  timeout: 60_000,
  expect: { timeout: 15_000 },
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  outputDir: 'test-results/artifacts',
  reporter: [['list'], ['json', { outputFile: process.env.HEARTH_PW_JSON ?? 'test-results/playwright.json' }]],
  use: {
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      ...(chromium ? { executablePath: chromium } : {}),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-proxy-server',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [
    { name: 'e2e', testDir: 'tests/e2e' },
    { name: 'electron', testDir: 'tests/electron' },
  ],
})
