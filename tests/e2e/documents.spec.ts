// Chatting with documents as a person does: attach (picker, drop, paste), watch them read, send,
// open them in the reader, see which passages answered a question, start a new chat from them.

import type { Page } from '@playwright/test'
import { expect, test } from './fixtures.ts'
import { messages, newChat, replyDone, send, setMaxTokens, shoot } from './ui.ts'

// A 4,096-token context: a short note fits whole, the handbook below (about 40 KB) does not.
test.use({ models: { 'tiny-chat': { shape: 'tiny', contextLength: 4096, endless: true, seed: 7 } } })

test.describe.configure({ mode: 'serial' })

const NOTES = 'Shopping list for Saturday:\n- flour\n- two lemons\n- a jar of honey\n'

/** A one-page PDF whose text layer holds these lines (Helvetica, no compression). */
function pdf(lines: string[]): Buffer {
  const escape = (s: string) => s.replace(/[\\()]/g, (c) => `\\${c}`)
  const content = ['BT', '/F1 12 Tf', '72 720 Td', '16 TL', ...lines.map((line) => `(${escape(line)}) Tj T*`), 'ET'].join('\n')
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
  ]
  let out = '%PDF-1.4\n'
  const offsets: number[] = []
  objects.forEach((body, i) => {
    offsets.push(out.length)
    out += `${i + 1} 0 obj\n${body}\nendobj\n`
  })
  const xref = out.length
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`
  return Buffer.from(out, 'latin1')
}

/** Sixty sections of look-alike prose and one about zebracorns: only retrieval finds that one. */
function handbook(): string {
  const topics = ['the harbour', 'the granary', 'the orchard', 'the lighthouse', 'the mill', 'the bridge']
  const sections = Array.from({ length: 60 }, (_, i) => {
    if (i === 37) return `Section ${i + 1}. The zebracorns of the northern valley sleep in hollow cedar trees, curled in pairs, and wake at dawn to graze on clover.`
    const topic = topics[i % topics.length]
    return (
      `Section ${i + 1}. The committee for ${topic} met on day ${i * 3 + 2} of the season to review the accounts, the repairs ` +
      `and the rota. Members agreed that ${topic} needs new rope, fresh paint and a careful inventory before the winter fair, ` +
      `and that the treasurer will report on costs at the next meeting. The minutes were read twice, corrected once and signed. ` +
      `Volunteers for ${topic} should bring gloves, lanterns and patience; the work is slow, but the village depends on it.`
    )
  })
  return sections.join('\n\n')
}

const filePicker = (page: Page) => page.getByLabel('Files to attach')
const chips = (page: Page) => page.getByTestId('attachment')

/** Records, from now on, whether a file chip ever showed a progress bar. */
async function watchProgress(page: Page): Promise<() => Promise<boolean>> {
  await page.evaluate(() => {
    const w = window as Window & { __attachProgress?: boolean }
    w.__attachProgress = false
    new MutationObserver(() => {
      if (document.querySelector('[data-testid="attachment"] [role="progressbar"]')) w.__attachProgress = true
    }).observe(document.body, { childList: true, subtree: true, attributes: true })
  })
  return () => page.evaluate(() => (window as Window & { __attachProgress?: boolean }).__attachProgress ?? false)
}

test('attaches a text file and a PDF, sends them, and reads them in the reader', async ({ app }) => {
  await newChat(app)
  await setMaxTokens(app, 20)
  const progress = await watchProgress(app)
  await filePicker(app).setInputFiles([
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(NOTES) },
    { name: 'menu.pdf', mimeType: 'application/pdf', buffer: pdf(['Soup of the day: lentil.', 'Dessert: plum cake with cream.']) },
  ])
  await expect(chips(app)).toHaveCount(2)
  await expect(chips(app).nth(0)).toHaveAttribute('data-status', 'ready')
  await expect(chips(app).nth(1)).toHaveAttribute('data-status', 'ready')
  await expect(chips(app).nth(1)).toContainText('PDF · 1 page')
  await expect(chips(app).getByRole('progressbar')).toHaveCount(0)
  expect(await progress(), 'a chip showed its progress while it was read').toBe(true)
  await shoot(app, 'documents-composer')

  await send(app, 'What is for dessert?')
  await expect(chips(app)).toHaveCount(0)
  const question = messages(app).first()
  await expect(question.getByTestId('message-document')).toHaveCount(2)
  await replyDone(app)
  await expect(app.getByTestId('document-mode')).toContainText('Documents in the prompt: notes.txt, menu.pdf')

  const open = question.getByRole('button', { name: 'Open menu.pdf' })
  await open.click()
  const reader = app.getByRole('dialog', { name: 'menu.pdf' })
  await expect(reader).toContainText('PDF · 1 page')
  await expect(reader.getByTestId('document-text')).toContainText('plum cake with cream')
  await app.keyboard.press('Escape')
  await expect(reader).toBeHidden()
  await expect(open).toBeFocused()

  await question.getByRole('button', { name: 'Open notes.txt' }).click()
  await expect(app.getByRole('dialog', { name: 'notes.txt' }).getByTestId('document-text')).toHaveText(/two lemons/)
  await app.getByRole('button', { name: 'Close document' }).click()

  // What was sent stays on the message after a reload.
  await app.reload()
  await expect(messages(app).first().getByTestId('message-document')).toHaveCount(2)
})

test('a file that is not text shows why on its chip, and holds the message back until removed', async ({ app }) => {
  await newChat(app)
  const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256))
  await filePicker(app).setInputFiles({ name: 'blob.bin', mimeType: 'application/octet-stream', buffer: binary })
  const chip = chips(app)
  await expect(chip).toHaveAttribute('data-status', 'error')
  await expect(chip.getByRole('alert')).toContainText(/binary/i)

  await app.getByRole('textbox', { name: 'Message' }).fill('Is this readable?')
  const sendButton = app.getByRole('button', { name: 'Send message' })
  await expect(sendButton).toBeDisabled()
  await expect(app.locator('#composer-hint')).toHaveText('Remove the files that could not be attached to send')
  await chip.getByRole('button', { name: 'Remove blob.bin' }).click()
  await expect(chips(app)).toHaveCount(0)
  await expect(sendButton).toBeEnabled()
})

test('files come by drop and by paste too, and at most ten to a message', async ({ app }) => {
  await newChat(app)
  const chat = app.getByRole('region', { name: 'Chat' })
  const dropped = await app.evaluateHandle(() => {
    const data = new DataTransfer()
    data.items.add(new File(['Dropped in.'], 'dropped.txt', { type: 'text/plain' }))
    return data
  })
  await chat.dispatchEvent('dragenter', { dataTransfer: dropped })
  await expect(app.getByTestId('drop-overlay')).toBeVisible()
  await chat.dispatchEvent('drop', { dataTransfer: dropped })
  await expect(app.getByTestId('drop-overlay')).toBeHidden()
  await expect(chips(app).filter({ hasText: 'dropped.txt' })).toHaveAttribute('data-status', 'ready')

  await app.getByRole('textbox', { name: 'Message' }).evaluate((area) => {
    const data = new DataTransfer()
    data.items.add(new File(['Pasted in.'], 'pasted.txt', { type: 'text/plain' }))
    area.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }))
  })
  await expect(chips(app).filter({ hasText: 'pasted.txt' })).toHaveAttribute('data-status', 'ready')

  await filePicker(app).setInputFiles(Array.from({ length: 9 }, (_, i) => ({ name: `part-${i}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`Part ${i}.`) })))
  await expect(chips(app)).toHaveCount(10)
  await expect(app.getByTestId('toast').filter({ hasText: 'at most 10 files: 1 was not attached' })).toBeVisible()
})

test('a document too long for the context is searched: sources under the reply open the passage, and a new chat starts from it', async ({ app }) => {
  await newChat(app)
  await setMaxTokens(app, 20)
  await filePicker(app).setInputFiles({ name: 'handbook.txt', mimeType: 'text/plain', buffer: Buffer.from(handbook()) })
  await expect(chips(app)).toHaveAttribute('data-status', 'ready')
  await send(app, 'Here is the village handbook.')
  await replyDone(app)
  const mode = app.getByTestId('document-mode')
  await expect(mode).toContainText('Searching handbook.txt for each question')
  await mode.getByRole('button').click()
  await expect(mode.getByRole('listitem').first()).toContainText('handbook.txt')

  await send(app, 'Where do the zebracorns sleep?')
  await replyDone(app)
  const sources = messages(app).last().getByTestId('source')
  await expect(sources.first()).toHaveText(/^\s*handbook\.txt · passage \d+$/)
  await sources.first().click()
  const reader = app.getByRole('dialog', { name: 'handbook.txt' })
  const passage = reader.getByTestId('passage')
  await expect(passage).toContainText('zebracorns of the northern valley')
  await expect(passage).toBeInViewport()
  await shoot(app, 'documents-reader')

  await reader.getByRole('button', { name: 'New chat with this document' }).click()
  await expect(reader).toBeHidden()
  await expect(app.getByRole('heading', { level: 1, name: 'New chat' })).toBeVisible()
  await expect(messages(app)).toHaveCount(0)
  await expect(chips(app)).toHaveCount(1)
  await expect(chips(app)).toHaveAttribute('data-status', 'ready')
  await expect(chips(app)).toContainText('handbook.txt')
  // Set up like the chat it came from.
  await app.getByRole('button', { name: 'Conversation settings' }).click()
  await expect(app.getByTestId('conversation-panel').getByRole('spinbutton', { name: 'Max tokens' })).toHaveValue('20')
  await app.getByRole('button', { name: 'Close conversation settings' }).click()

  await send(app, 'Where do the zebracorns sleep?')
  await expect(messages(app).first().getByTestId('message-document')).toHaveText(/handbook\.txt/)
  await replyDone(app)
})
