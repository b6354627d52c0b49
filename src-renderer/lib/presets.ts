// Presets as the renderer edits them: a blank one, and one taken from a chat's settings.

import type { Conversation, Preset } from '../../src-shared/types.ts'

export function blankPreset(name = 'New preset'): Preset {
  return { id: crypto.randomUUID(), name, systemPrompt: '', params: {}, modelId: null, contextPolicy: null, toolServers: [] }
}

/** A preset holding what the chat was set up with, named after it. */
export function presetFrom(conversation: Conversation, name: string): Preset {
  return {
    id: crypto.randomUUID(),
    name,
    systemPrompt: conversation.systemPrompt,
    params: { ...conversation.params },
    modelId: conversation.modelId,
    contextPolicy: conversation.contextPolicy,
    toolServers: [...conversation.toolServers],
  }
}

/** What a new chat takes from the preset: the fields it sets, for createConversation / a draft. */
export function presetInit(preset: Preset): Pick<Conversation, 'systemPrompt' | 'params' | 'toolServers'> & Partial<Pick<Conversation, 'modelId' | 'contextPolicy'>> {
  return {
    systemPrompt: preset.systemPrompt,
    params: { ...preset.params },
    toolServers: [...preset.toolServers],
    ...(preset.modelId === null ? {} : { modelId: preset.modelId }),
    ...(preset.contextPolicy === null ? {} : { contextPolicy: preset.contextPolicy }),
  }
}
