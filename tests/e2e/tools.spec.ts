// Tools through the UI: an MCP server added in Settings → Tools, turned on for a chat, and a
// model (a remote one, scripted here, so it calls a tool every time) whose call the user allows
// or denies; the result shows under the call, and the model answers with it.

import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { testServer } from '../mcp/servers.ts'
import { expect, test } from './fixtures.ts'
import { closeModels, closeSettings, messages, newChat, openModels, openSettings, replyDone, send } from './ui.ts'

test.use({ models: {} })
test.describe.configure({ mode: 'serial' })

interface Body {
  messages: { role: string; content: string | null; tool_call_id?: string }[]
  tools?: { function: { name: string } }[]
}

/** An OpenAI-compatible server whose model calls `lookup` first, then answers with the result it reads. */
function scriptedModel(): Promise<{ url: string; bodies: Body[]; close: () => Promise<void> }> {
  const bodies: Body[] = []
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'toolbot', object: 'model' }] }))
      return
    }
    let raw = ''
    req.on('data', (c: Buffer) => (raw += c.toString()))
    req.on('end', () => {
      const body = JSON.parse(raw) as Body
      bodies.push(body)
      const last = body.messages.at(-1)
      const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
      res.writeHead(200, { 'Content-Type': 'text/event-stream' })
      if (last?.role === 'tool') {
        res.write(chunk({ content: `The lookup said: ${last.content ?? ''}` }))
        res.write(chunk({}, 'stop'))
      } else {
        res.write(chunk({ content: 'Let me look that up.' }))
        res.write(chunk({ tool_calls: [{ index: 0, id: `call_${bodies.length}`, type: 'function', function: { name: 'lookup', arguments: '{"key":"japan"}' } }] }))
        res.write(chunk({}, 'tool_calls'))
      }
      res.end('data: [DONE]\n\n')
    })
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}/v1`,
        bodies,
        close: () => {
          server.closeAllConnections()
          return new Promise((done) => server.close(() => done()))
        },
      })
    }),
  )
}

test('adds an MCP server, turns its tools on in a chat, and the model uses a call the user allowed; a denied call runs nothing', async ({ app }) => {
  const model = await scriptedModel()
  try {
    await openSettings(app, 'Tools')
    const config = { mcpServers: { calc: testServer(), broken: testServer('--fail-start') } }
    await app.getByRole('textbox', { name: 'MCP servers' }).fill('{ not json')
    await app.getByRole('button', { name: 'Save servers' }).click()
    await expect(app.getByTestId('mcp-error')).toContainText('This is not valid JSON')
    await app.getByRole('textbox', { name: 'MCP servers' }).fill(JSON.stringify(config, null, 2))
    await app.getByRole('button', { name: 'Save servers' }).click()
    const calc = app.getByTestId('mcp-server').filter({ hasText: 'calc' })
    await expect(calc).toHaveAttribute('data-state', 'ready', { timeout: 30_000 })
    await expect(calc).toContainText('5 tools')
    const broken = app.getByTestId('mcp-server').filter({ hasText: 'broken' })
    await expect(broken).toHaveAttribute('data-state', 'failed', { timeout: 30_000 })
    await expect(broken.getByTestId('mcp-server-error')).toContainText('no configuration given')

    await closeSettings(app)
    await openModels(app, 'Remote')
    await app.getByLabel('Server address').fill(model.url)
    await app.getByRole('button', { name: 'Add server' }).click()
    await expect(app.getByTestId('remote-provider')).toContainText('1 model')
    await closeModels(app)

    await newChat(app)
    await app.getByRole('button', { name: 'Tools for this chat' }).click()
    const menu = app.getByRole('dialog', { name: 'Tools for this chat' })
    await expect(menu).toBeVisible()
    await menu.getByRole('checkbox', { name: /calc/ }).check()
    await expect(app.getByRole('button', { name: 'Tools for this chat: 5 from 1 server' })).toBeVisible()
    await app.keyboard.press('Escape')
    await expect(menu).toBeHidden()

    await send(app, 'What is the capital of Japan?')
    const call = app.getByTestId('tool-call').last()
    await expect(call).toHaveAttribute('data-state', 'approval')
    await expect(call.getByTestId('tool-arguments')).toContainText('"key": "japan"')
    await expect(app.getByRole('button', { name: 'Stop generating' })).toBeVisible()
    await call.getByRole('button', { name: 'Allow once' }).click()
    await expect(call).toHaveAttribute('data-state', 'complete')
    await replyDone(app)
    await expect(messages(app).last()).toContainText('The lookup said: Tokyo')
    // The result is collapsed under the call, and opens.
    const result = call.getByTestId('tool-result')
    await expect(result.locator('pre')).toBeHidden()
    await result.locator('summary').click()
    await expect(result.locator('pre')).toHaveText('Tokyo')
    // The model was offered the server's tools and read the result as the call's.
    expect(model.bodies[0]?.tools?.map((t) => t.function.name).sort()).toEqual(['add', 'crash', 'lookup', 'repeat', 'sleep'])
    expect(model.bodies[1]?.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: 'Tokyo' })

    await send(app, 'And again?')
    const second = app.getByTestId('tool-call').last()
    await expect(second).toHaveAttribute('data-state', 'approval')
    await second.getByRole('button', { name: 'Deny' }).click()
    await expect(second.getByTestId('tool-outcome')).toHaveText('denied')
    await replyDone(app)
    await expect(messages(app).last()).toContainText('The lookup said: Error: You denied this call.')

    // After a reload the calls and results are still there, from the history.
    await app.reload()
    await expect(app.getByTestId('tool-call')).toHaveCount(2)
    await expect(app.getByTestId('tool-call').first()).toHaveAttribute('data-state', 'complete')

    // A call's result is deleted as any message is, with the reply that read it, and Undo brings both back.
    await app.getByTestId('tool-call').last().getByRole('button', { name: 'Delete tool call lookup' }).click()
    await expect(app.getByTestId('tool-call')).toHaveCount(1)
    await expect(messages(app).last()).toContainText('Let me look that up.')
    await app.getByTestId('toast').filter({ hasText: 'Message deleted' }).getByRole('button', { name: 'Undo' }).click()
    await expect(app.getByTestId('tool-call')).toHaveCount(2)
    await expect(messages(app).last()).toContainText('The lookup said: Error: You denied this call.')
  } finally {
    await model.close()
  }
})
