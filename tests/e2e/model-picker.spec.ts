// The chat header's model picker: what each model is (size, variant, context, fit), search, the
// keyboard, and remote servers' models beside the library's.

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hearthExport } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { closeModels, importConversations, modelPicker, newChat, openConversation, openModels, pickModel } from './ui.ts'

test.use({ models: { 'tiny-chat': { shape: 'tiny', contextLength: 4096, seed: 7 }, 'tiny-q4': { shape: 'tiny', contextLength: 2048, q4: true, seed: 8 } } })
test.describe.configure({ mode: 'serial' })

/** An OpenAI-compatible server that only lists its models: the picker never chats with it. */
let server: Server
let serverUrl: string

test.beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'llama3.2:3b', object: 'model' }, { id: 'qwen2.5:7b', object: 'model' }] }))
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
})

test.afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
})

test("shows each local model's parameters, the variant that would load with its size, its context and whether it fits", async ({ app }) => {
  await newChat(app)
  const picker = modelPicker(app)
  await picker.button.click()
  await expect(picker.search).toBeFocused()
  const local = picker.list.getByRole('group', { name: 'Local' })
  await expect(local.getByRole('option')).toHaveCount(2)
  // On the CPU a q4 variant loads before fp32; a folder with fp32 alone loads that.
  const q4 = local.getByRole('option', { name: 'tiny-q4', exact: true })
  await expect(q4).toHaveAccessibleDescription(/^fits [\d.]+[KM]? params · q4 · [\d.]+ [KM]B · 2,048 context$/)
  await expect(q4.getByTestId('fit')).toHaveText('fits')
  await expect(local.getByRole('option', { name: 'tiny-chat', exact: true })).toHaveAccessibleDescription(/· fp32 · [\d.]+ [KM]B · 4,096 context$/)

  await picker.search.fill('q4')
  await expect(local.getByRole('option')).toHaveText([/^tiny-q4/])
  await picker.search.fill('LLAMA')
  await expect(local.getByRole('option')).toHaveCount(2)
  await picker.search.fill('gemma')
  await expect(picker.list.getByRole('option')).toHaveCount(0)
  await expect(app.getByRole('status').filter({ hasText: 'No model matches “gemma”' })).toBeVisible()

  await app.keyboard.press('Escape')
  await expect(picker.list).toBeHidden()
  await expect(picker.button).toBeFocused()
})

test('is worked from the keyboard: arrows move, Enter picks, typing on the closed picker searches', async ({ app }) => {
  // A stored chat, so the choice can be seen to last.
  await importConversations(app, hearthExport([{ title: 'Picked by keys', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }] }]))
  await openConversation(app, 'Picked by keys')
  await pickModel(app, 'tiny-q4')
  // The button names the model and the variant it loads.
  const picker = modelPicker(app)
  await expect(picker.button).toHaveText('tiny-q4 · q4')
  await expect(picker.button).toBeFocused()

  // Opened, the list starts on the chat's model.
  await app.keyboard.press('ArrowDown')
  await expect(picker.search).toBeFocused()
  const option = (name: string) => picker.list.getByRole('option', { name, exact: true })
  await expect(picker.search).toHaveAttribute('aria-activedescendant', (await option('tiny-q4').getAttribute('id'))!)
  await app.keyboard.press('ArrowUp')
  await expect(picker.search).toHaveAttribute('aria-activedescendant', (await option('tiny-chat').getAttribute('id'))!)
  await app.keyboard.press('Enter')
  await expect(picker.list).toBeHidden()
  await expect(picker.button).toHaveText('tiny-chat · fp32')
  await expect(picker.button).toBeFocused()

  // A letter on the closed picker opens it with the search begun; Enter takes the first match.
  await app.keyboard.type('q4')
  await expect(picker.search).toBeFocused()
  await expect(picker.search).toHaveValue('q4')
  await expect(picker.list.getByRole('option')).toHaveCount(1)
  await app.keyboard.press('Enter')
  await expect(picker.button).toHaveText('tiny-q4 · q4')

  // Esc leaves the chat's model as it was.
  await app.keyboard.type('chat')
  await expect(option('tiny-chat')).toBeVisible()
  await app.keyboard.press('Escape')
  await expect(picker.list).toBeHidden()
  await expect(picker.button).toHaveText('tiny-q4 · q4')

  // The choice is the chat's, kept by main.
  await app.reload()
  await openConversation(app, 'Picked by keys')
  await expect(picker.button).toHaveText('tiny-q4 · q4')
})

test("lists each remote server's models in a group of its own, searched by model and server", async ({ app }) => {
  await openModels(app, 'Remote')
  await app.getByLabel('Server address').fill(serverUrl)
  await app.getByRole('button', { name: 'Add server' }).click()
  await expect(app.getByTestId('remote-provider')).toContainText('2 models')
  await closeModels(app)

  await newChat(app)
  const picker = modelPicker(app)
  await picker.button.click()
  const host = new URL(serverUrl).host
  const remote = picker.list.getByRole('group', { name: `Remote · ${host}` })
  await expect(remote.getByRole('option')).toHaveText(['llama3.2:3b', 'qwen2.5:7b'])
  // A remote model has no fit to judge here.
  await expect(remote.getByTestId('fit')).toHaveCount(0)

  await picker.search.fill('qwen')
  await expect(picker.list.getByRole('group', { name: 'Local' })).toHaveCount(0)
  await expect(remote.getByRole('option')).toHaveText(['qwen2.5:7b'])
  await picker.search.fill('127.0.0.1')
  await expect(remote.getByRole('option')).toHaveCount(2)
  await app.keyboard.press('ArrowDown')
  await app.keyboard.press('Enter')
  await expect(picker.button).toHaveText(`qwen2.5:7b · ${host}`)
  await expect(app.getByRole('region', { name: 'Chat' }).getByTitle('Replies come from this server')).toHaveText(`Remote · ${host}`)
})
