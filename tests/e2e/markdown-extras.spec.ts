// Markdown beyond the basics in replies: LaTeX as MathML, task lists, table column alignment.

import { hearthExport } from './conversation-file.ts'
import { expect, test } from './fixtures.ts'
import { importConversations, openConversation } from './ui.ts'

const REPLY = [
  'Euler: $e^{i\\pi} + 1 = 0$, and the sum',
  '',
  '$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$',
  '',
  'Broken: $\\frac{1$ and prices like $5 and $10 stay text.',
  '',
  '- [x] written',
  '- [ ] checked',
  '',
  '| left | centre | right |',
  '|:-----|:------:|------:|',
  '| a | b | c |',
].join('\n')

test('renders formulas, task boxes and aligned table columns, safely', async ({ app }) => {
  await importConversations(app, hearthExport([{ title: 'Maths', messages: [{ role: 'user', content: 'Show me' }, { role: 'assistant', content: REPLY }] }]))
  await expect(app.getByTestId('toast').filter({ hasText: 'Imported 1 conversation (2 messages).' })).toBeVisible()
  await openConversation(app, 'Maths')
  const reply = app.locator('[data-role="assistant"]')
  // Two formulas, one inline and one displayed, as MathML the browser lays out.
  await expect(reply.locator('math')).toHaveCount(2)
  await expect(reply.locator('math[display="block"]')).toHaveCount(1)
  await expect(reply.locator('math').first().locator('mi').first()).toHaveText('e')
  await expect(reply.locator('.katex-error')).toContainText('\\frac{1')
  await expect(reply).toContainText('prices like $5 and $10 stay text')
  await expect(reply.locator('[style]')).toHaveCount(0)

  const boxes = reply.getByRole('checkbox')
  await expect(boxes).toHaveCount(2)
  await expect(boxes.nth(0)).toBeChecked()
  await expect(boxes.nth(1)).not.toBeChecked()
  await expect(boxes.nth(0)).toBeDisabled()

  const align = (cell: string) => reply.getByRole('cell', { name: cell, exact: true }).evaluate((el) => getComputedStyle(el).textAlign)
  expect([await align('a'), await align('b'), await align('c')]).toEqual(['left', 'center', 'right'])
})
