// How API keys of remote providers are kept at rest: encrypted by the OS (Electron's safeStorage)
// where it can, else in plain text in a file only this user may read — and the UI says which.

import type { SecretStorage } from '../../src-shared/types.ts'

export interface SecretBox {
  readonly storage: SecretStorage
  /** The secret as it is written to disk (base64 for encrypted bytes). */
  seal(plain: string): string
  open(sealed: string): string
}

/** The part of Electron's safeStorage used here; injected so that this module never imports electron. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean
  encryptString(plain: string): Buffer
  decryptString(encrypted: Buffer): string
  /** Linux only: 'basic_text' means a hard-coded password, which protects nothing. */
  getSelectedStorageBackend?(): string
}

/** Keys kept as they are; the file holding them is written with mode 0600. */
export const plainBox: SecretBox = {
  storage: 'plain-file',
  seal: (plain) => plain,
  open: (sealed) => sealed,
}

/** safeStorage when the OS really encrypts (Keychain, DPAPI, a Linux keyring); else plainBox. */
export function safeStorageBox(safeStorage: SafeStorageLike): SecretBox {
  const backend = safeStorage.getSelectedStorageBackend?.()
  if (!safeStorage.isEncryptionAvailable() || backend === 'basic_text') return plainBox
  return {
    storage: 'os-encrypted',
    seal: (plain) => safeStorage.encryptString(plain).toString('base64'),
    open: (sealed) => safeStorage.decryptString(Buffer.from(sealed, 'base64')),
  }
}
