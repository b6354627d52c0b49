// The app shell in browser mode: it connects through the bridge and shows who it is.

import { readFileSync } from 'node:fs'
import { expect, test } from './fixtures.ts'

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }

test('shows the version and platform that main reports', async ({ app }) => {
  await expect(app.getByRole('heading', { name: 'Hearth' })).toBeVisible()
  await expect(app.getByTestId('app-info')).toContainText(`Version ${version}`)
  await expect(app.getByTestId('app-info')).toContainText(`${process.platform}/${process.arch}`)
})

test('keeps working after a reload, with the token out of the address bar', async ({ app }) => {
  await expect(app.getByTestId('app-info')).toBeVisible()
  expect(new URL(app.url()).searchParams.has('token')).toBe(false)
  await app.reload()
  await expect(app.getByTestId('app-info')).toContainText(`Version ${version}`)
})

test('cannot reach the bridge without the token', async ({ browser, hearth }) => {
  const page = await browser.newPage()
  await page.goto(new URL('/', hearth.url).toString())
  await expect(page.getByRole('alert')).toContainText('it carries the access token')
  await page.close()
})
