// One conversation's KV cache: the past key/value tensors and the token ids they were computed from.

import * as ort from 'onnxruntime-node'

/**
 * Invariant [TAG_KV_TOKENS]: `tokens[i]` is the token whose keys and values sit at position i of
 * every tensor, so `tokens.length === length` always. Whoever changes one changes both.
 */
export class KvCache {
  /** 2 x layers tensors in layer order, key then value, each [1, kvHeads, length, headDim]. */
  tensors: ort.Tensor[]
  readonly tokens: number[]

  constructor(tensors: ort.Tensor[], tokens: number[] = []) {
    this.tensors = tensors
    this.tokens = tokens
  }

  get length(): number {
    return this.tokens.length
  }

  /** Bytes held by the tensors (on the CPU or on a device). */
  get bytes(): number {
    let total = 0
    for (const t of this.tensors) total += t.size * (t.type === 'float16' ? 2 : 4)
    return total
  }

  /** Takes the outputs of a forward pass over `added` as the new cache; device tensors replaced are freed. */
  advance(present: ort.Tensor[], added: ArrayLike<number>): void {
    for (let i = 0; i < this.tensors.length; i++) {
      const old = this.tensors[i]!
      if (old !== present[i] && old.location === 'gpu-buffer') old.dispose()
    }
    this.tensors = present
    for (let i = 0; i < added.length; i++) this.tokens.push(added[i]!)
  }

  /** Keeps the first `n` positions. Copies (ORT needs contiguous tensors); a no-op when n >= length. */
  async truncate(n: number): Promise<void> {
    if (n >= this.length) return
    const next: ort.Tensor[] = []
    for (const t of this.tensors) {
      const [batch, heads, total, dim] = t.dims as [number, number, number, number]
      const src = (t.location === 'cpu' ? t.data : await t.getData()) as Float32Array | Uint16Array
      const dst = src instanceof Float32Array ? new Float32Array(batch * heads * n * dim) : new Uint16Array(batch * heads * n * dim)
      for (let h = 0; h < batch * heads; h++) {
        dst.set(src.subarray(h * total * dim, (h * total + n) * dim), h * n * dim)
      }
      if (t.location === 'gpu-buffer') t.dispose()
      next.push(new ort.Tensor(t.type as 'float32' | 'float16', dst, [batch, heads, n, dim]))
    }
    this.tensors = next
    this.tokens.length = n
  }

  dispose(): void {
    for (const t of this.tensors) if (t.location === 'gpu-buffer') t.dispose()
    this.tensors = []
    this.tokens.length = 0
  }
}
