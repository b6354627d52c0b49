// Remote OpenAI-compatible servers: their models for the picker, and adding or removing one.

import type { NewRemoteProvider, RemoteModel, RemoteModelId, RemoteProvider } from '../../src-shared/types.ts'
import { api } from './api.ts'

/**
 * RemoteModelId's prefix, held to the shared type (a change of format there fails to compile
 * here): a chat keeps the id after its server was removed, and is still remote then.
 */
const REMOTE_PREFIX = 'remote:' satisfies RemoteModelId

class RemotesState {
  providers = $state<RemoteProvider[]>([])

  /** Every remote model, with the server it is on. */
  get models(): { provider: RemoteProvider; model: RemoteModel }[] {
    return this.providers.flatMap((provider) => provider.models.map((model) => ({ provider, model })))
  }

  isRemote(modelId: string | null): modelId is RemoteModelId {
    return modelId?.startsWith(REMOTE_PREFIX) ?? false
  }

  find(modelId: string | null): { provider: RemoteProvider; model: RemoteModel } | undefined {
    return this.models.find((m) => m.model.id === modelId)
  }

  /** "name · server" for a remote model id; the id itself for any other. */
  label(modelId: string): string {
    const found = this.find(modelId)
    if (found) return `${found.model.name} · ${found.provider.name}`
    return this.isRemote(modelId) ? 'a removed remote server' : modelId
  }

  async refresh(): Promise<void> {
    this.providers = await api.listRemoteProviders()
  }

  async add(input: NewRemoteProvider): Promise<RemoteProvider> {
    const provider = await api.addRemoteProvider(input)
    this.providers = [...this.providers, provider]
    return provider
  }

  /** Has main fetch the server's model list again. */
  async refreshProvider(providerId: string): Promise<void> {
    const provider = await api.refreshRemoteProvider(providerId)
    this.providers = this.providers.map((p) => (p.id === providerId ? provider : p))
  }

  async remove(providerId: string): Promise<void> {
    await api.removeRemoteProvider(providerId)
    this.providers = this.providers.filter((p) => p.id !== providerId)
  }
}

export const remotes = new RemotesState()
