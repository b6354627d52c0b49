// A reply streams in block by block: the blocks already shown keep their DOM, so a selection in them
// and a copy button's state survive the frames that follow; a code fence is highlighted once it closes.

import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { expect, test } from './fixtures.ts'
import { closeModels, messages, newChat, openModels, replyDone, send } from './ui.ts'

test.use({ models: {}, permissions: ['clipboard-read', 'clipboard-write'] })

/** An OpenAI-compatible server with one model that says what the test tells it to, when it tells it. */
class ScriptedServer {
  readonly #server: Server
  #reply: ServerResponse | null = null
  #replied: Promise<void>
  #onReply = (): void => undefined

  constructor() {
    this.#replied = new Promise((resolve) => (this.#onReply = resolve))
    this.#server = createServer((req, res) => {
      if (req.method === 'GET' && req.url?.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'scripted', object: 'model' }] }))
      } else if (req.method === 'POST' && req.url?.endsWith('/chat/completions')) {
        req.resume()
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        this.#reply = res
        this.#onReply()
      } else {
        res.writeHead(404).end()
      }
    })
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1`
  }

  async say(text: string): Promise<void> {
    await this.#replied
    this.#event({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })
  }

  async finish(): Promise<void> {
    await this.#replied
    this.#event({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })
    this.#reply!.end('data: [DONE]\n\n')
  }

  close(): Promise<void> {
    this.#reply?.destroy()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }

  #event(data: object): void {
    this.#reply!.write(`data: ${JSON.stringify(data)}\n\n`)
  }
}

let server: ScriptedServer
let url: string

test.beforeAll(async () => {
  server = new ScriptedServer()
  url = await server.listen()
})

test.afterAll(() => server.close())

test('streams a reply block by block: shown blocks keep their selection and their copy buttons', async ({ app }) => {
  await openModels(app, 'Remote')
  await app.getByLabel('Server address').fill(url)
  await app.getByRole('button', { name: 'Add server' }).click()
  await expect(app.getByTestId('remote-provider')).toContainText('1 model')
  await closeModels(app)
  await newChat(app)
  await send(app, 'Show me some code')
  const reply = messages(app).last()

  await server.say('Here is the code:\n\n```js\nconst answer = 42\n')
  const code = reply.locator('.code-block code')
  await expect(code).toHaveText('const answer = 42')
  await expect(code.locator('.hljs-keyword'), 'an open fence shows plain text').toHaveCount(0)
  await server.say('```\n\n')
  await expect(code.locator('.hljs-keyword')).toHaveText('const')

  const copy = reply.getByRole('button', { name: 'Copy js code' })
  await copy.click()
  await expect(copy).toHaveText('Copied')
  expect(await app.evaluate(() => navigator.clipboard.readText())).toBe('const answer = 42')
  await reply.getByText('Here is the code:').evaluate((paragraph) => {
    getSelection()!.selectAllChildren(paragraph)
    ;(window as Window & { __copy?: Element | null }).__copy = document.querySelector('.copy-code')
  })

  for (const word of 'Then a paragraph grows word by word, frame after frame.'.split(' ')) await server.say(`${word} `)
  await server.say('\n\n- and a list\n- of two items')
  await expect(reply.locator('li')).toHaveText(['and a list', 'of two items'])
  await expect(reply.getByTestId('stream-cursor')).toBeVisible()

  expect(await app.evaluate(() => getSelection()!.toString()), 'the selection survived the frames').toBe('Here is the code:')
  const sameButton = await copy.evaluate((button) => button === (window as Window & { __copy?: Element | null }).__copy)
  expect(sameButton, 'the copy button was never replaced').toBe(true)

  await server.finish()
  await replyDone(app)
  await expect(reply).toHaveAttribute('data-status', 'complete')
  await expect(reply.getByTestId('stream-cursor')).toHaveCount(0)
  await expect(reply.locator('.md > p')).toHaveText(['Here is the code:', 'Then a paragraph grows word by word, frame after frame.'])
})
