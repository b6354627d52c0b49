// Model output is untrusted: HTML and script in a reply stay inert text; markdown and code render.

import { hearthExport } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { importConversations, openConversation } from './ui.ts'

test.use({ permissions: ['clipboard-read', 'clipboard-write'] })

const HOSTILE = [
  'Look: <img src=x onerror="window.__pwned = \'img\'"> and <script>window.__pwned = \'script\'</script>',
  '',
  '<a href="javascript:window.__pwned=\'a\'">click me</a> and [a markdown link](javascript:window.__pwned=\'md\')',
  '',
  '<div style="position:fixed;inset:0" onmouseover="window.__pwned=\'div\'">cover</div>',
  '',
  '![tracker](https://example.com/pixel.png) <iframe src="https://example.com"></iframe>',
  '',
  '```js',
  "const answer = 42 // <b>not bold</b>",
  '```',
].join('\n')

test('renders HTML and script from the model as inert text, with no request and no handler', async ({ app }) => {
  const requests: string[] = []
  app.on('request', (request) => requests.push(request.url()))
  await importConversations(app, hearthExport([{ title: 'Hostile reply', messages: [{ role: 'user', content: 'Say something nasty' }, { role: 'assistant', content: HOSTILE }] }]))
  await openConversation(app, 'Hostile reply')

  const reply = app.locator('[data-role="assistant"]')
  await expect(reply).toContainText('<img src=x onerror="window.__pwned = \'img\'">')
  await expect(reply).toContainText("<script>window.__pwned = 'script'</script>")
  for (const selector of ['img', 'script', 'iframe', '[onerror]', '[onmouseover]', '[style]', 'a[href^="javascript"]']) {
    await expect(reply.locator(selector), selector).toHaveCount(0)
  }
  await reply.getByText('cover').hover()
  await reply.getByText('a markdown link').click()
  expect(await app.evaluate(() => (window as Window & { __pwned?: string }).__pwned)).toBeUndefined()
  expect(requests.filter((url) => url.includes('example.com'))).toEqual([])

  const code = reply.locator('.code-block code')
  await expect(code).toHaveText("const answer = 42 // <b>not bold</b>")
  await expect(code.locator('.hljs-keyword')).toHaveText('const')
  await reply.getByRole('button', { name: 'Copy js code' }).click()
  await expect(reply.getByRole('button', { name: 'Copy js code' })).toHaveText('Copied')
  expect(await app.evaluate(() => navigator.clipboard.readText())).toBe("const answer = 42 // <b>not bold</b>")
})

test('copies a whole message as its markdown source', async ({ app }) => {
  await importConversations(app, hearthExport([{ title: 'Copy me', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Some **bold** words.' }] }]))
  await openConversation(app, 'Copy me')
  const reply = app.locator('[data-role="assistant"]')
  await reply.getByRole('button', { name: 'Copy message' }).click()
  await expect(reply.getByRole('button', { name: 'Copied' })).toBeVisible()
  expect(await app.evaluate(() => navigator.clipboard.readText())).toBe('Some **bold** words.')
})

test('shows a conversation with hostile replies: each renders, as text where it must, and so do the others', async ({ app }) => {
  const deep = '- > '.repeat(1500)
  const emphasis = '*a'.repeat(50000)
  await importConversations(app, hearthExport([{
    title: 'Hostile markdown',
    messages: [
      { role: 'user', content: 'Nest something' },
      { role: 'assistant', content: `Here:\n\n${deep}` },
      { role: 'user', content: 'Emphasise something' },
      { role: 'assistant', content: `${emphasis}\n\nAnd **this**.` },
      { role: 'user', content: 'Now be normal' },
      { role: 'assistant', content: 'Some **bold** words.' },
    ],
  }]))
  await openConversation(app, 'Hostile markdown')

  const messages = app.getByTestId('message')
  await expect(messages).toHaveCount(6)
  await expect(messages.filter({ hasText: 'Now be normal' })).toBeVisible()
  const replies = app.locator('[data-role="assistant"]')
  await expect(replies.nth(2).locator('strong')).toHaveText('bold')
  await expect(replies.nth(0)).toContainText('Here:')
  await expect(replies.nth(0)).toContainText('- > - > - >')
  await expect(replies.nth(1).locator('em')).toHaveCount(0)
  await expect(replies.nth(1)).toContainText('*a*a*a')
  await expect(replies.nth(1).locator('strong')).toHaveText('this')
})
