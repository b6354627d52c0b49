// `npm run serve`: the app's services in plain Node, its UI served to a browser.

import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { createApp } from '../app/app.ts'
import { DocumentExtractor } from '../documents/extract.ts'
import { PRIVATE_UMASK, resolveDataPaths } from '../app/paths.ts'
import { startupErrorLine } from '../app/startup-error.ts'
import { startServer } from './server.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    'models-dir': { type: 'string' },
    /** The OpenAI-compatible API server on for this run (default port: Settings'). */
    api: { type: 'boolean' },
    'api-port': { type: 'string' },
  },
  strict: true,
})

function portFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const port = Number(value)
  if (Number.isInteger(port) && port >= 0 && port <= 65535) return port
  console.error(`--${name} must be a port number, not "${value}"`)
  process.exit(2)
}

const port = portFlag('port', values.port) ?? 0
const apiPort = portFlag('api-port', values['api-port'])

const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version
const paths = resolveDataPaths({ dataDir: values['data-dir'], modelsDir: values['models-dir'] })

/** A start that fails (a database from a newer Hearth, an unwritable folder, a taken port) is one line, not a stack. */
function failStart(err: unknown): never {
  console.error(startupErrorLine(err, paths.dataDir))
  process.exit(1)
}

// Before anything is written: what Hearth and its engine process create is the user's alone.
if (process.platform !== 'win32') process.umask(PRIVATE_UMASK)
const app = await createApp({
  shell: 'browser',
  version,
  ...paths,
  extractor: new DocumentExtractor({ readyAtStart: true }),
  ...(values.api || apiPort !== undefined ? { apiServer: { enabled: true, port: apiPort } } : {}),
}).catch(failStart)
const server = await startServer({ app, rendererDir: path.join(root, 'dist/renderer'), port }).catch(async (err: unknown) => {
  await app.close().catch((closeErr: unknown) => console.error(`Closing after the failed start failed too: ${(closeErr as Error).message}`))
  return failStart(err)
})

// The URL is the first line: tests and scripts read it from there.
console.log(server.url)
console.log(`Hearth in browser mode. Data: ${paths.dataDir}  Models: ${paths.modelsDir}`)
const api = await app.api.apiServerStatus()
if (api.url !== null) console.log(`OpenAI-compatible API: ${api.url}${api.network ? ' (open to the network, API key required)' : ''}`)
else if (api.error !== null) console.error(`The API server did not start: ${api.error}`)

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
