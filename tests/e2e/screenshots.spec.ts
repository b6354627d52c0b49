// Screenshots of the main views in light and dark, saved to test-results/screenshots/ to look at.

import { hearthExport, SAMPLE_STATS } from './conversation-file.ts'
import { CHAT_MODEL, expect, test } from './fixtures.ts'
import { closeModels, closeSettings, importConversations, newChat, openConversation, openModels, openSettings, replyDone, send, setMaxTokens, shoot } from './ui.ts'

// A Hearth of its own: it sets a default model, which specs sharing a worker would inherit.
test.use({ models: { 'tiny-demo': CHAT_MODEL['tiny-chat']! } })

const REPLY = `Here is a small function that reverses a string, with a test:

\`\`\`ts
export function reverse(text: string): string {
  // Spread by code point so emoji stay whole.
  return [...text].reverse().join('')
}

console.assert(reverse('héllo') === 'olléh')
\`\`\`

A few notes:

- **Code points**, not UTF-16 units, so \`'👍'\` survives.
- Grapheme clusters (flags, skin tones) need \`Intl.Segmenter\`.

| Input | Output |
|---|---|
| \`abc\` | \`cba\` |`

test('the start screen, a chat, search, settings and the model manager', async ({ app }) => {
  // The published set (npm run screenshots) takes six pictures of each view instead of two.
  if (process.env.HEARTH_SCREENSHOTS) test.setTimeout(600_000)
  await app.setViewportSize({ width: 1280, height: 800 })
  await expect(app.getByRole('heading', { name: 'Hearth', exact: true })).toBeVisible()
  await shoot(app, 'welcome')

  // Chats use the one model there is, as a user who has set it up would have it.
  await openSettings(app, 'Chat defaults')
  await app.getByRole('combobox', { name: 'Default model' }).selectOption({ index: 1 })
  await closeSettings(app)
  await importConversations(
    app,
    hearthExport([
      {
        title: 'Reverse a string in TypeScript',
        messages: [
          { role: 'user', content: 'How do I reverse a string in TypeScript without breaking emoji?' },
          { role: 'assistant', content: REPLY, stats: SAMPLE_STATS },
          { role: 'user', content: 'And in Python?' },
          { role: 'assistant', content: 'In Python, slicing works on code points already:\n\n```python\ndef reverse(text: str) -> str:\n    return text[::-1]\n```', stats: { ...SAMPLE_STATS, ttftMs: 64, reusedTokens: 590 } },
        ],
      },
      { title: 'Trip to Lisbon', pinned: true, ageMinutes: 60 * 24 * 3, messages: [{ role: 'user', content: 'Plan three days in Lisbon.' }] },
      { title: 'Sourdough schedule', ageMinutes: 60 * 26, messages: [{ role: 'user', content: 'When should I feed the starter?' }] },
      { title: 'Quarterly report outline', ageMinutes: 60 * 24 * 20, messages: [{ role: 'user', content: 'Outline a quarterly report.' }] },
    ]),
  )
  // The import's toast is news of a moment, not part of the views.
  await app.getByTestId('toast').getByRole('button', { name: 'Dismiss' }).click()
  await openConversation(app, 'Reverse a string in TypeScript')
  await expect(app.getByTestId('message')).toHaveCount(4)
  await shoot(app, 'chat')

  await app.getByRole('button', { name: 'Conversation settings' }).click()
  await expect(app.getByTestId('conversation-panel')).toBeVisible()
  await shoot(app, 'chat-panel')
  // The narrowest window the layout is made for: the sidebar hidden, the panel over the chat.
  await app.setViewportSize({ width: 800, height: 700 })
  await expect(app.getByRole('navigation', { name: 'Conversations' })).toBeHidden()
  // The published set (npm run screenshots) has every view at 800 px already.
  if (!process.env.HEARTH_SCREENSHOTS) await shoot(app, 'chat-panel-800')
  await app.setViewportSize({ width: 1280, height: 800 })
  await app.getByRole('button', { name: 'Close conversation settings' }).click()

  await app.getByRole('searchbox', { name: 'Search messages' }).fill('emoji')
  await expect(app.getByTestId('search-hit').first()).toBeVisible()
  await shoot(app, 'search')
  await app.getByRole('searchbox', { name: 'Search messages' }).fill('')

  await newChat(app)
  await setMaxTokens(app, 60)
  await send(app, 'Hello! Who are you?')
  await replyDone(app)
  await expect(app.getByTestId('cpu-fallback')).toBeVisible()
  await shoot(app, 'streamed')

  await openSettings(app, 'General')
  await shoot(app, 'settings-general')
  await openSettings(app, 'Chat defaults')
  await shoot(app, 'settings-defaults')
  await openSettings(app, 'Engine')
  await shoot(app, 'settings-engine')
  await openSettings(app, 'Presets')
  await shoot(app, 'settings-presets')
  await openSettings(app, 'Tools')
  await shoot(app, 'settings-tools')
  await closeSettings(app)

  await openModels(app, 'Installed')
  await expect(app.getByTestId('library-model')).toHaveCount(1)
  await expect(app.getByTestId('model-fit')).toBeVisible()
  await shoot(app, 'models-installed')
  await openModels(app, 'Discover')
  await expect(app.getByTestId('catalog-model').first()).toBeVisible()
  await shoot(app, 'models-discover')
  await closeModels(app)
})
