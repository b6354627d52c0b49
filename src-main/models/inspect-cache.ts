// Inspecting a model folder parses its tokenizer (megabytes of JSON: 110-170 ms for SmolLM2's) and
// every send resolves its model through the library, so summaries are kept while the folder is
// unchanged: the names, sizes and mtimes of its files and of its onnx folder's, a few stats.

import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import type { ModelSummary } from '../../src-shared/types.ts'

type Inspect = (dir: string) => Promise<ModelSummary>

/** `inspect`, answered from the last result for a folder whose files are as they were then. */
export function cachedInspect(inspect: Inspect): Inspect {
  const kept = new Map<string, { stamp: string; summary: ModelSummary }>()
  return async (dir) => {
    const stamp = await folderStamp(dir)
    const hit = kept.get(dir)
    if (stamp !== null && hit?.stamp === stamp) return hit.summary
    const summary = await inspect(dir)
    // Stamped before the inspection: a change while it ran makes the next call inspect again.
    if (stamp === null) kept.delete(dir)
    else kept.set(dir, { stamp, summary })
    return summary
  }
}

/** What inspecting reads, as a string that changes with any file added, removed, rewritten or touched; null when the folder cannot be read. */
async function folderStamp(dir: string): Promise<string | null> {
  const parts: string[] = []
  for (const sub of ['.', 'onnx']) {
    const folder = path.join(dir, sub)
    const names = await readdir(folder).catch(() => null)
    if (names === null) {
      if (sub === '.') return null
      parts.push(`${sub}: none`)
      continue
    }
    names.sort()
    const stats = await Promise.all(names.map((n) => stat(path.join(folder, n)).catch(() => null)))
    names.forEach((n, i) => {
      const s = stats[i]
      parts.push(s ? `${sub}/${n} ${s.isDirectory() ? 'dir' : s.size} ${s.mtimeMs}` : `${sub}/${n} unreadable`)
    })
  }
  return parts.join('\n')
}
