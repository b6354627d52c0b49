// Playwright: e2e tests drive the real UI in browser mode; electron tests drive the desktop app.

import { defineConfig } from '@playwright/test'
import { browserEnv, findBrowser } from './tools/browser.ts'

/** HEARTH_BROWSER, else a system Chrome/Chromium/Edge, Playwright's own, or @sparticuz/chromium's (tools/browser.ts). */
const browser = findBrowser()
const env = Object.fromEntries(Object.entries({ ...process.env, ...browserEnv(browser) }).filter((entry): entry is [string, string] => entry[1] !== undefined))

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
  },
  projects: [
    // Unpacks the npm package's Chromium where that is the one, or fails once, saying what to install.
    { name: 'browser', testDir: 'tests', testMatch: 'browser.setup.ts', use: { trace: 'off' } },
    {
      name: 'e2e',
      testDir: 'tests/e2e',
      dependencies: ['browser'],
      use: {
        launchOptions: {
          ...(browser.source !== 'none' ? { executablePath: browser.executablePath } : {}),
          env,
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
    },
    { name: 'electron', testDir: 'tests/electron' },
  ],
})
