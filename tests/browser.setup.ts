// Before the e2e tests: the browser they drive is there (unpacked, when it is the npm package's).

import { test } from '@playwright/test'
import { describeBrowser, findBrowser, prepareBrowser } from '../tools/browser.ts'

test('a browser for the e2e tests', async () => {
  const browser = findBrowser()
  if (browser.source === 'none') throw new Error(browser.reason)
  const seconds = await prepareBrowser(browser)
  console.log(`e2e browser: ${describeBrowser(browser)}${seconds ? ` (unpacked in ${seconds.toFixed(1)} s)` : ''}`)
})
