// Blocks quantized by ggml itself (libggml-base.so of node-llama-cpp 3.21.1) and the values its
// dequantizer gives them: written by make-golden.py beside this file.

import { readFileSync } from 'node:fs'

interface Golden {
  /** ggml's type traits by id, for every id it defines. */
  traits: Record<string, { name: string; blockSize: number; typeSize: number }>
  /** 512 values each: gaussian, heavy-tailed, zero, constant and all-positive stretches. */
  blocks: { name: string; type: number; count: number; bytes: string; values: string }[]
}

export const GOLDEN = JSON.parse(readFileSync(new URL('./ggml-golden.json', import.meta.url), 'utf8')) as Golden

export function goldenBlock(name: string): { type: number; count: number; bytes: Uint8Array; values: Float32Array } {
  const g = GOLDEN.blocks.find((b) => b.name === name)
  if (!g) throw new Error(`no golden block ${name}`)
  const values = new Uint8Array(Buffer.from(g.values, 'base64'))
  return { type: g.type, count: g.count, bytes: new Uint8Array(Buffer.from(g.bytes, 'base64')), values: new Float32Array(values.buffer, 0, g.count) }
}
