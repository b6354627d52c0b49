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

  /** True when the tensors live on a GPU device ('gpu-buffer'). */
  get onDevice(): boolean {
    return this.tensors.some((t) => t.location === 'gpu-buffer')
  }

  /**
   * Keeps the first `n` positions (a no-op when n >= length) by copying, as ORT needs contiguous
   * tensors. A device cache cannot be read back (getData on a 'gpu-buffer' tensor aborts the
   * process in onnxruntime-node 1.30), so it is emptied instead: callers read `length` afterwards
   * and recompute what is missing.
   */
  truncate(n: number): void {
    if (n >= this.length) return
    const device = this.onDevice
    const kept = device ? 0 : n
    const next: ort.Tensor[] = []
    for (const t of this.tensors) {
      const [batch, heads, total, dim] = t.dims as [number, number, number, number]
      const size = batch * heads * kept * dim
      const dst = t.type === 'float16' ? new Uint16Array(size) : new Float32Array(size)
      if (!device) {
        const src = t.data as Float32Array | Uint16Array
        for (let h = 0; h < batch * heads; h++) dst.set(src.subarray(h * total * dim, (h * total + kept) * dim), h * kept * dim)
      }
      if (t.location === 'gpu-buffer') t.dispose()
      next.push(new ort.Tensor(t.type as 'float32' | 'float16', dst, [batch, heads, kept, dim]))
    }
    this.tensors = next
    this.tokens.length = kept
  }

  dispose(): void {
    for (const t of this.tensors) if (t.location === 'gpu-buffer') t.dispose()
    this.tensors = []
    this.tokens.length = 0
  }
}
