// Remote OpenAI-compatible providers: added, listed, refreshed and removed, kept in the data
// directory with their keys sealed; and chats with their models, stopped like local ones.

import { randomBytes } from 'node:crypto'
import { chmod, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { AppError } from '../../src-shared/errors.ts'
import type { GenerationParams, PromptMessage, ToolDefinition, NewRemoteProvider, RemoteModelId, RemoteProvider } from '../../src-shared/types.ts'
import { fetchModels, normalizeBaseUrl, streamChat, type Endpoint, type RemoteReply } from './openai-client.ts'
import type { SecretBox } from './secret-box.ts'

const PREFIX = 'remote:' satisfies RemoteModelId

/** A conversation's modelId for a provider's model; the name is encoded so it holds no '/'. */
export function remoteModelId(providerId: string, model: string): RemoteModelId {
  return `${PREFIX}${providerId}:${encodeURIComponent(model)}`
}

export function isRemoteModelId(modelId: string | null): modelId is RemoteModelId {
  return modelId?.startsWith(PREFIX) ?? false
}

/** The provider id and model name in a remoteModelId(); null for an id it could not have made. */
export function parseRemoteModelId(modelId: RemoteModelId): { providerId: string; model: string } | null {
  const rest = modelId.slice(PREFIX.length)
  const colon = rest.indexOf(':')
  if (colon < 1 || colon === rest.length - 1) return null
  try {
    return { providerId: rest.slice(0, colon), model: decodeURIComponent(rest.slice(colon + 1)) }
  } catch {
    // A malformed %-escape: not a name remoteModelId() encoded.
    return null
  }
}

const storedSchema = z.strictObject({
  version: z.literal(1),
  providers: z.array(
    z.strictObject({
      id: z.string().regex(/^[0-9a-f]{8}$/),
      name: z.string(),
      baseUrl: z.string(),
      models: z.array(z.string()),
      modelsFetchedAt: z.number(),
      key: z.strictObject({ storage: z.enum(['os-encrypted', 'plain-file']), sealed: z.string() }).nullable(),
    }),
  ),
})
type Stored = z.infer<typeof storedSchema>['providers'][number]

export class RemoteProviders {
  readonly #file: string
  readonly #secrets: SecretBox
  #providers: Stored[] | null = null
  /** Running chats by conversation id. */
  readonly #running = new Map<string, AbortController>()

  /** Keys live in `<dataDir>/remote-providers.json`, sealed by `secrets`, the file mode 0600. */
  constructor(opts: { dataDir: string; secrets: SecretBox }) {
    this.#file = path.join(opts.dataDir, 'remote-providers.json')
    this.#secrets = opts.secrets
  }

  async list(): Promise<RemoteProvider[]> {
    return (await this.#load()).map(view)
  }

  /** Fetches the server's model list first: a provider that cannot be reached is not added. */
  async add(input: NewRemoteProvider): Promise<RemoteProvider> {
    const apiKey = input.apiKey?.trim() || null
    const { endpoint, models } = await fetchModels({ baseUrl: normalizeBaseUrl(input.baseUrl), apiKey })
    const providers = await this.#load()
    const stored: Stored = {
      id: randomBytes(4).toString('hex'),
      name: input.name?.trim() || new URL(endpoint.baseUrl).host,
      baseUrl: endpoint.baseUrl,
      models,
      modelsFetchedAt: Date.now(),
      key: apiKey === null ? null : { storage: this.#secrets.storage, sealed: this.#secrets.seal(apiKey) },
    }
    await this.#save([...providers, stored])
    return view(stored)
  }

  /** Fetches the provider's model list again. */
  async refresh(providerId: string): Promise<RemoteProvider> {
    const stored = await this.#get(providerId)
    const { models } = await fetchModels(this.#endpoint(stored))
    const updated = { ...stored, models, modelsFetchedAt: Date.now() }
    await this.#save((await this.#load()).map((p) => (p.id === providerId ? updated : p)))
    return view(updated)
  }

  async remove(providerId: string): Promise<void> {
    await this.#get(providerId)
    await this.#save((await this.#load()).filter((p) => p.id !== providerId))
  }

  /** The provider and model a remote modelId names; NOT_FOUND once the provider was removed. */
  async resolve(modelId: RemoteModelId): Promise<{ provider: RemoteProvider; model: string }> {
    const parsed = parseRemoteModelId(modelId)
    const stored = parsed ? (await this.#load()).find((p) => p.id === parsed.providerId) : undefined
    if (!parsed || !stored) {
      throw new AppError('NOT_FOUND', 'The remote server this chat used was removed. Choose another model for this chat.')
    }
    return { provider: view(stored), model: parsed.model }
  }

  /** A reply from a remote model, cancelled by `cancel(conversationId)` like a local one. */
  async generate(
    modelId: RemoteModelId,
    conversationId: string,
    messages: PromptMessage[],
    params: Partial<GenerationParams>,
    onToken: (text: string) => void,
    tools: readonly ToolDefinition[] = [],
  ): Promise<RemoteReply> {
    // Registered before the first await: a stop that comes at once still finds it.
    const controller = new AbortController()
    this.#running.set(conversationId, controller)
    try {
      const { provider, model } = await this.resolve(modelId)
      return await streamChat(this.#endpoint(await this.#get(provider.id)), model, messages, params, onToken, controller.signal, tools)
    } finally {
      if (this.#running.get(conversationId) === controller) this.#running.delete(conversationId)
    }
  }

  cancel(conversationId: string): void {
    this.#running.get(conversationId)?.abort()
  }

  #endpoint(stored: Stored): Endpoint {
    return { baseUrl: stored.baseUrl, apiKey: stored.key === null ? null : this.#openKey(stored.key, stored.name) }
  }

  #openKey(key: NonNullable<Stored['key']>, name: string): string {
    if (key.storage !== this.#secrets.storage) {
      const where = key.storage === 'os-encrypted' ? 'encrypted by the desktop app' : 'in plain text by browser mode'
      throw new AppError('REMOTE_FAILED', `The API key of ${name} was stored ${where} and cannot be read here. Remove the server and add it again.`)
    }
    return this.#secrets.open(key.sealed)
  }

  async #get(providerId: string): Promise<Stored> {
    const stored = (await this.#load()).find((p) => p.id === providerId)
    if (!stored) throw new AppError('NOT_FOUND', 'That remote server is no longer in the list.')
    return stored
  }

  async #load(): Promise<Stored[]> {
    if (this.#providers !== null) return this.#providers
    const text = await readFile(this.#file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null
      throw err
    })
    const parsed = text === null ? null : storedSchema.safeParse(safeJson(text))
    if (parsed && !parsed.success) {
      throw new AppError('INTERNAL', `${this.#file} is damaged (${parsed.error.issues[0]?.message ?? 'invalid'}). Move it away to start the list of remote servers again.`)
    }
    this.#providers = parsed?.data.providers ?? []
    return this.#providers
  }

  /** Whole-file replace: a crash leaves the old list or the new one, never half of one. */
  async #save(providers: Stored[]): Promise<void> {
    const tmp = `${this.#file}.tmp`
    await writeFile(tmp, JSON.stringify({ version: 1, providers }, null, 2), { mode: 0o600 })
    // The mode above applies only when the file is created.
    await chmod(tmp, 0o600)
    await rename(tmp, this.#file)
    this.#providers = providers
  }
}

function view(stored: Stored): RemoteProvider {
  return {
    id: stored.id,
    name: stored.name,
    baseUrl: stored.baseUrl,
    models: stored.models.map((name) => ({ id: remoteModelId(stored.id, name), name })),
    modelsFetchedAt: stored.modelsFetchedAt,
    hasApiKey: stored.key !== null,
    keyStorage: stored.key?.storage ?? null,
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
