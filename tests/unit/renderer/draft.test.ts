// A new chat's draft: what a change to it keeps, and what its first message creates it with.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Conversation } from '../../../src-shared/types.ts'
import { DRAFT_ID, draftInit, isDraft, patchDraft } from '../../../src-renderer/lib/draft.ts'

const draft: Conversation = {
  id: DRAFT_ID,
  title: 'New chat',
  createdAt: 1,
  updatedAt: 1,
  modelId: 'tiny',
  systemPrompt: 'Be brief.',
  params: { temperature: 0.2 },
  contextPolicy: 'drop-oldest',
  pinned: false,
  archived: false,
  activeLeafId: null,
  toolServers: [],
  folderId: null,
}

describe('patchDraft', () => {
  it('changes what the patch names and keeps the rest, a field left undefined included', () => {
    const next = patchDraft(draft, { params: { maxTokens: 9 }, modelId: undefined, toolServers: ['calc'] })
    assert.deepEqual(next, { ...draft, params: { maxTokens: 9 }, toolServers: ['calc'] })
    assert.equal(patchDraft(draft, { modelId: null }).modelId, null)
    assert.equal(isDraft(next), true)
  })
})

describe('draftInit', () => {
  it('creates the chat with the settings chosen in the draft, and nothing of its own bookkeeping', () => {
    assert.deepEqual(draftInit(patchDraft(draft, { systemPrompt: 'Answer in French.', folderId: 'f1' })), {
      modelId: 'tiny',
      systemPrompt: 'Answer in French.',
      params: { temperature: 0.2 },
      contextPolicy: 'drop-oldest',
      toolServers: [],
      folderId: 'f1',
    })
  })
})
