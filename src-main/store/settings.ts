// Typed settings as key/value rows: each value is JSON checked against its key's schema.

import type Database from 'better-sqlite3'
import { AppError } from '../../src-shared/errors.ts'
import { DEFAULT_SETTINGS, type Settings } from '../../src-shared/types.ts'
import { describeIssue, settingSchemas } from './schemas.ts'

export type SettingKey = keyof Settings

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(settingSchemas, key)
}

export class SettingsStore {
  readonly #db: Database.Database
  readonly #select: Database.Statement<[string], { value: string }>
  readonly #selectAll: Database.Statement<[], { key: string; value: string }>
  readonly #upsert: Database.Statement<[string, string]>
  readonly #delete: Database.Statement<[string]>

  constructor(db: Database.Database) {
    this.#db = db
    this.#select = db.prepare('SELECT value FROM settings WHERE key = ?')
    this.#selectAll = db.prepare('SELECT key, value FROM settings')
    this.#upsert = db.prepare(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    )
    this.#delete = db.prepare('DELETE FROM settings WHERE key = ?')
  }

  /** The stored value, or the default when none is stored or the stored one no longer fits. */
  get<K extends SettingKey>(key: K): Settings[K] {
    checkKey(key)
    const row = this.#select.get(key)
    return row === undefined ? defaultOf(key) : parseStored(key, row.value)
  }

  all(): Settings {
    const settings = structuredClone(DEFAULT_SETTINGS)
    for (const { key, value } of this.#selectAll.all()) {
      if (isSettingKey(key)) assign(settings, key, parseStored(key, value))
    }
    return settings
  }

  set<K extends SettingKey>(key: K, value: Settings[K]): Settings[K] {
    checkKey(key)
    const checked = check(key, value)
    this.#upsert.run(key, JSON.stringify(checked))
    return checked
  }

  /** Changes every key the patch names, or none of them when any value is invalid. */
  update(patch: Partial<Settings>): Settings {
    const entries = Object.entries(patch).filter(([, value]) => value !== undefined)
    const checked = entries.map(([key, value]) => {
      checkKey(key)
      return [key, check(key as SettingKey, value)] as const
    })
    this.#db.transaction(() => {
      for (const [key, value] of checked) this.#upsert.run(key, JSON.stringify(value))
    })()
    return this.all()
  }

  reset(key: SettingKey): Settings[typeof key] {
    checkKey(key)
    this.#delete.run(key)
    return defaultOf(key)
  }
}

function checkKey(key: string): void {
  if (!isSettingKey(key)) throw new AppError('BAD_REQUEST', `There is no setting named "${key}".`)
}

function check<K extends SettingKey>(key: K, value: unknown): Settings[K] {
  const parsed = settingSchemas[key].safeParse(value)
  if (!parsed.success) throw new AppError('BAD_REQUEST', `Setting ${key} was not changed: ${describeIssue(parsed.error)}`)
  return parsed.data
}

function defaultOf<K extends SettingKey>(key: K): Settings[K] {
  return structuredClone(DEFAULT_SETTINGS[key])
}

function parseStored<K extends SettingKey>(key: K, json: string): Settings[K] {
  const parsed = settingSchemas[key].safeParse(JSON.parse(json))
  return parsed.success ? parsed.data : defaultOf(key)
}

function assign<K extends SettingKey>(settings: Settings, key: K, value: Settings[K]): void {
  settings[key] = value
}
