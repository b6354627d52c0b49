// Which folder of the models directory a Hub repository installs into, and whose a folder is.
//
// [TAG_REPO_FOLDER] modelIdForRepo is injective over repository ids, and keeps the name every
// earlier Hearth gave a Hugging Face repository (`owner--name`), so existing folders need no
// migration. Only ids that would read back two ways change: `a--b/c` and `a/b--c` were both
// `a--b--c`; now `a/b--c` keeps that name and `a--b/c` becomes `+a--b+c`. The Hub refuses `--`
// in repository ids, so this reaches only mirrors that allow it. A folder an earlier Hearth
// downloaded for such an id stays listed under its old name but is no longer that repository's.
//
// Names that differ can still be one folder on disk where the file system folds case (macOS,
// Windows) or drops trailing dots. So a download marks its folder with the repository
// (DOWNLOAD_MARK), and Hearth installs into a folder only when its mark names the same
// repository, or it has none: imported folders, and downloads by a Hearth before marks, which
// the first download into them adopts.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { AppError } from '../../src-shared/errors.ts'

export const DOWNLOAD_MARK = '.hearth-download.json'

/**
 * The folder name (and model id) a repository gets. `owner/name` is `owner--name` and a bare
 * legacy `name` is itself, where that reads back one way only: the owner holds no `--` and does
 * not end in `-` (so the first `--` is the separator), a bare name holds no `--` (so it is no
 * `owner--name`), and neither starts with `.` (a dot folder is never listed, and `.downloads`
 * is the staging folder). Other ids are spelled `+owner+name` and `+name`: no id holds a `+`.
 */
export function modelIdForRepo(repo: string): string {
  const slash = repo.indexOf('/')
  if (slash < 0) return repo.startsWith('.') || repo.includes('--') ? `+${repo}` : repo
  const owner = repo.slice(0, slash)
  const name = repo.slice(slash + 1)
  const plain = !owner.startsWith('.') && !owner.includes('--') && !owner.endsWith('-')
  return plain ? `${owner}--${name}` : `+${owner}+${name}`
}

/** Throws CONFLICT unless `dir` is missing, unmarked, or marked as `repo`'s. */
export async function checkFolderOwner(dir: string, repo: string): Promise<void> {
  const owner = await readOwner(dir)
  if (owner === undefined || owner === repo) return
  throw new AppError(
    'CONFLICT',
    owner === null
      ? `${dir} has a ${DOWNLOAD_MARK} Hearth cannot read, so it cannot tell whose download it is; Hearth will not install ${repo} into it. Remove that model first.`
      : `${dir} holds ${owner}, not ${repo}; Hearth will not install one repository over another. Remove that model first.`,
  )
}

/** Checks again (the folder may have appeared while the files downloaded), then marks it as `repo`'s. */
export async function claimFolder(dir: string, repo: string): Promise<void> {
  await checkFolderOwner(dir, repo)
  await mkdir(dir, { recursive: true })
  const mark = path.join(dir, DOWNLOAD_MARK)
  await writeFile(`${mark}.tmp`, JSON.stringify({ repo }))
  await rename(`${mark}.tmp`, mark)
}

/** The repository the mark names; undefined without a mark, null for one that does not parse. */
async function readOwner(dir: string): Promise<string | null | undefined> {
  let text: string
  try {
    text = await readFile(path.join(dir, DOWNLOAD_MARK), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    const value: unknown = JSON.parse(text)
    const repo = typeof value === 'object' && value !== null ? (value as { repo?: unknown }).repo : undefined
    return typeof repo === 'string' ? repo : null
  } catch {
    return null
  }
}
