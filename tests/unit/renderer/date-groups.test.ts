// The sidebar's date groups: pinned first, then by local calendar day of the last update.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Conversation } from '../../../src-shared/types.ts'
import { groupConversations } from '../../../src-renderer/lib/date-groups.ts'

function conversation(id: string, updatedAt: Date, pinned = false): Conversation {
  return {
    id, title: id, createdAt: updatedAt.getTime(), updatedAt: updatedAt.getTime(), modelId: null, systemPrompt: '',
    params: {}, contextPolicy: 'drop-oldest', pinned, archived: false, activeLeafId: null,
    toolServers: [], folderId: null,
  }
}

const now = new Date(2025, 5, 15, 9, 30).getTime()
const at = (day: number, hour: number) => new Date(2025, 5, day, hour)

describe('groupConversations', () => {
  it('sorts by calendar day, not by 24-hour windows', () => {
    const groups = groupConversations(
      [conversation('early-today', at(15, 0)), conversation('late-yesterday', at(14, 23)), conversation('yesterday-morning', at(14, 1))],
      now,
    )
    assert.deepEqual(groups.map((g) => [g.label, g.conversations.map((c) => c.id)]), [
      ['Today', ['early-today']],
      ['Yesterday', ['late-yesterday', 'yesterday-morning']],
    ])
  })

  it('puts the last seven days before yesterday in one group and the rest in Older', () => {
    const groups = groupConversations([conversation('six-ago', at(9, 12)), conversation('seven-ago', at(8, 0)), conversation('eight-ago', at(7, 23))], now)
    assert.deepEqual(groups.map((g) => [g.label, g.conversations.map((c) => c.id)]), [
      ['Previous 7 days', ['six-ago', 'seven-ago']],
      ['Older', ['eight-ago']],
    ])
  })

  it('lists pinned conversations first whatever their age, newest first within each group', () => {
    const groups = groupConversations([conversation('old-pin', at(1, 0), true), conversation('a', at(15, 8)), conversation('new-pin', at(15, 9), true)], now)
    assert.deepEqual(groups.map((g) => [g.label, g.conversations.map((c) => c.id)]), [
      ['Pinned', ['new-pin', 'old-pin']],
      ['Today', ['a']],
    ])
  })

  it('leaves out empty groups', () => {
    assert.deepEqual(groupConversations([], now), [])
  })
})
