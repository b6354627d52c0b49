// The API server's settings: open to the network, it shows the addresses other devices use and the key.

import net from 'node:net'
import os from 'node:os'
import { expect, test } from './fixtures.ts'
import { openSettings } from './ui.ts'

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

test('shows the network addresses and the key once the server is open to other devices', async ({ app }) => {
  await openSettings(app, 'Engine')
  const section = app.getByTestId('api-server')
  const port = await freePort()
  await section.getByLabel('Port').fill(String(port))
  await section.getByLabel('Port').press('Tab')
  await section.getByLabel('OpenAI-compatible server for other apps').check()
  await expect(section.getByRole('status')).toContainText(`http://127.0.0.1:${port}/v1`)
  await section.getByLabel('Let other devices on the network use it (requires the API key)').check()
  await expect(section.getByTestId('api-key')).toHaveText(/^hearth-/)
  // The same addresses this machine has, each at the port chosen.
  const expected = Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && !a.internal && (a.family === 'IPv4' || !a.address.toLowerCase().startsWith('fe80:')))
    .map((a) => (a!.family === 'IPv4' ? `http://${a!.address}:${port}/v1` : `http://[${a!.address}]:${port}/v1`))
  if (expected.length === 0) await expect(section.getByRole('status')).toContainText('no network address')
  else await expect(section.getByRole('list', { name: 'Network addresses' }).getByRole('listitem')).toHaveText(expected.map((url) => new RegExp(url.replace(/[.[\]]/g, '\\$&'))))
  await section.getByLabel('Let other devices on the network use it (requires the API key)').uncheck()
  await section.getByLabel('OpenAI-compatible server for other apps').uncheck()
})
