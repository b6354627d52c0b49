// The model picker's rows: the library's models, then each remote server's, kept where every typed word matches.

import type { ModelSummary, RemoteModelId, RemoteProvider } from '../../src-shared/types.ts'

type LocalModel = Extract<ModelSummary, { valid: true }>

export type ModelChoice = { kind: 'local'; id: string; model: LocalModel } | { kind: 'remote'; id: RemoteModelId; name: string; provider: RemoteProvider }

export interface ChoiceGroup {
  /** 'local', or the remote server's id. */
  key: string
  label: string
  choices: ModelChoice[]
}

/**
 * A model's name as people read it: a downloaded folder's id carries the Hub owner
 * (`owner--name`, or `+owner+name` where that would read two ways; see repo-folder.ts), which the
 * picker leaves out. Any other folder name is shown as it is.
 */
export function displayName(name: string): string {
  const plus = /^\+[^+]+\+(.+)$/.exec(name)
  if (plus) return plus[1] as string
  const dashes = name.indexOf('--')
  return dashes > 0 && dashes + 2 < name.length ? name.slice(dashes + 2) : name
}

/** True when every word of the query is part of one of the fields, ignoring case. */
export function matchesQuery(query: string, fields: readonly string[]): boolean {
  const haystack = fields.map((f) => f.toLowerCase())
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter((word) => word !== '')
    .every((word) => haystack.some((field) => field.includes(word)))
}

/** Local models match on name, id, architecture and their variants (q4, fp16, …); remote ones on name and server. */
export function modelChoices(local: readonly LocalModel[], providers: readonly RemoteProvider[], query: string): ChoiceGroup[] {
  const groups: ChoiceGroup[] = []
  const locals = local.filter((m) => matchesQuery(query, [m.name, m.id, m.architecture, ...m.variants.map((v) => v.name)]))
  if (locals.length > 0) groups.push({ key: 'local', label: 'Local', choices: locals.map((model) => ({ kind: 'local', id: model.id, model })) })
  for (const provider of providers) {
    const choices = provider.models
      .filter((m) => matchesQuery(query, [m.name, provider.name]))
      .map((m): ModelChoice => ({ kind: 'remote', id: m.id, name: m.name, provider }))
    if (choices.length > 0) groups.push({ key: provider.id, label: `Remote · ${provider.name}`, choices })
  }
  return groups
}
