// `npm run serve`: the app's services in plain Node, its UI served to a browser.

import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { createApp } from '../app/app.ts'
import { resolveDataPaths } from '../app/paths.ts'
import { startServer } from './server.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    'models-dir': { type: 'string' },
  },
  strict: true,
})

const port = values.port === undefined ? 0 : Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number, not "${values.port}"`)
  process.exit(2)
}

const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version
const paths = resolveDataPaths({ dataDir: values['data-dir'], modelsDir: values['models-dir'] })
const app = await createApp({ shell: 'browser', version, ...paths })
const server = await startServer({ app, rendererDir: path.join(root, 'dist/renderer'), port })

// The URL is the first line: tests and scripts read it from there.
console.log(server.url)
console.log(`Hearth in browser mode. Data: ${paths.dataDir}  Models: ${paths.modelsDir}`)

let closing = false
async function shutdown(): Promise<void> {
  if (closing) return
  closing = true
  await server.close()
  await app.close()
  process.exit(0)
}
process.on('SIGINT', () => void shutdown())
process.on('SIGTERM', () => void shutdown())
