// The ONNX session of a decoder, as open-session.ts opened it: one forward pass over new tokens,
// their keys and values written to a KvCache, the buffers every pass reuses, and the probe of
// whether several new tokens can go on top of a cache.

import * as ort from 'onnxruntime-node'
import { AppError } from '../../src-shared/errors.ts'
import type { KvDtype, KvUpdate, ProviderName } from '../../src-shared/types.ts'
import { KvCache } from './kv-cache.ts'
import { NAMES, type IntType, type Signature } from './signature.ts'

export interface SessionOptions {
  provider: ProviderName
  threads: number
  /**
   * Whether idle intra-op threads busy-wait for work (onnxruntime's default) instead of sleeping.
   * Off unless set: spinning threads steal the cores from the UI and everything else on the
   * machine, and a step waits for its slowest thread (PERFORMANCE.md).
   */
  spinning?: boolean
  /** Longest sequence a pass may reach (the model's context length); buffers grow towards it as passes need. */
  contextLength: number
  /** Fallbacks for symbolic dims in the metadata (from config.json). */
  kvHeads: number
  headDim: number
  vocab: number
  /**
   * 'auto' (the default): rewrite the graph so the cache is updated in place, 'split' first,
   * then 'append', each verified at load, else the export as it is. 'split' or 'append': only
   * that rewrite, else the export as it is (benchmarks compare them). 'copy': the export as it is.
   */
  kvUpdate?: 'auto' | KvUpdate
  /**
   * The element type to keep the cache in; absent: the export's. Only a graph rewritten in place
   * can change it (graph/cache-dtype.ts); the export as it is keeps its own, and says so.
   */
  kvDtype?: KvDtype
  /** Whether 'split' may fold an export's repeat_kv away (default true; benchmarks compare). */
  foldRepeatKv?: boolean
  /**
   * Whether a rewritten graph's rotary embeddings, and residual Adds with their RMSNorms, are
   * fused into onnxruntime's contrib kernels (default: on the CPU, where it is tested; benchmarks
   * compare).
   */
  fuse?: boolean
  /** Whether a rewritten graph's 4-bit matmuls take int8 activations (default false here; loadModel's default is true). */
  int8Activations?: boolean
  /**
   * Record onnxruntime's profile of every run into `<prefix>_<time>.json` (`bench -- profile
   * --engine`). Each session opened on the way writes its own when released, the one kept last.
   */
  profileFilePrefix?: string
}

const QUIET: ort.InferenceSession.RunOptions = { logSeverityLevel: 4 }

function intArray(type: IntType, n: number): BigInt64Array | Int32Array {
  return type === 'int64' ? new BigInt64Array(n) : new Int32Array(n)
}

function setInt(array: BigInt64Array | Int32Array, i: number, value: number): void {
  if (array instanceof BigInt64Array) array[i] = BigInt(value)
  else array[i] = value
}

export interface ForwardOptions {
  /** 'last': logits of the final position, [vocab]. 'all': [tokens, vocab] (tests, scoring). */
  logits: 'last' | 'all'
  /**
   * Added to every position id. Only tests set it: it proves the equivalence checks notice a
   * wrong position.
   */
  positionShift?: number
  /** Keep onnxruntime from logging a failure the caller expects and handles. */
  quiet?: boolean
}

/**
 * Positions an in-place cache grows by: a pass attends over the spare ones too, masked. Growing
 * copies the cache, so at 4,096 positions a step of 64 costs ~1% of the decode time it covers.
 */
const GROW_STEP = 64

/**
 * Positions the attention_mask and position_ids buffers cover at first. They double as passes
 * reach further, so memory follows the context used, never the context a config declares (issue 15).
 */
const FIRST_POSITIONS = 512

export class ModelSession {
  readonly sig: Signature
  readonly provider: ProviderName
  readonly vocab: number
  /** How the cache is updated each step; `kvUpdateNotes` says why a faster way was not used. */
  readonly kvUpdate: KvUpdate
  readonly kvUpdateNotes: string[]
  /** Parts of the graph fused into single kernels at load, as "what ×count". */
  readonly fusions: string[]
  /** Whether the graph's 4-bit matmuls quantize their activations to int8 (set by openSession). */
  int8Activations = false
  private session: ort.InferenceSession
  private contextLength: number
  // Buffers reused by every forward pass; tensors over them are views, not copies.
  private ones: BigInt64Array | Int32Array // [covered positions] of 1: attention_mask is a prefix view
  private arange: BigInt64Array | Int32Array // [covered positions] of 0, 1, 2, ...: position_ids views
  private mask: BigInt64Array | Int32Array // in place: [capacity + new tokens], rewritten per pass
  private ids: BigInt64Array | Int32Array // [chunk capacity]: input_ids of this pass
  private keepLast: ort.Tensor | null
  private keepAll: ort.Tensor | null
  private branch: [ort.Tensor, ort.Tensor] // use_cache_branch false, true
  private logits32: Float32Array // [vocab]: fp16 logits converted here
  private empty: ort.Tensor[] // a past of length 0

  /** Made by openSession (open-session.ts), which reads `sig` and chooses `update`. */
  constructor(session: ort.InferenceSession, sig: Signature, opts: SessionOptions, update: KvUpdate, notes: string[], fusions: string[] = []) {
    this.session = session
    this.fusions = fusions
    this.sig = sig
    this.provider = opts.provider
    this.kvUpdate = update
    this.kvUpdateNotes = notes
    this.contextLength = opts.contextLength
    const logitsMeta = session.outputMetadata.find((m) => m.name === NAMES.logits)
    const vocabDim = logitsMeta?.isTensor ? logitsMeta.shape[2] : undefined
    this.vocab = typeof vocabDim === 'number' ? vocabDim : opts.vocab
    this.ones = intArray(sig.mask ?? 'int64', 0)
    this.arange = intArray(sig.positions ?? 'int64', 0)
    this.cover(Math.min(FIRST_POSITIONS, opts.contextLength))
    this.mask = intArray(sig.mask ?? 'int64', sig.inPlace ? 2 * GROW_STEP : 0)
    this.ids = intArray(sig.ids, 512)
    const keep = (v: number): ort.Tensor | null => {
      if (!sig.logitsToKeep) return null
      const data = intArray(sig.logitsToKeep.type, 1)
      setInt(data, 0, v)
      return new ort.Tensor(sig.logitsToKeep.type, data, [])
    }
    this.keepLast = keep(1)
    this.keepAll = keep(0)
    this.branch = [new ort.Tensor('bool', Uint8Array.of(0), [1]), new ort.Tensor('bool', Uint8Array.of(1), [1])]
    this.logits32 = new Float32Array(this.vocab)
    this.empty = this.emptyCache().tensors
  }

  /** A cache with no positions: tensors of sequence length 0, as the first pass expects. */
  emptyCache(): KvCache {
    const dims = [1, this.sig.kvHeads, 0, this.sig.headDim]
    const tensors = this.sig.pastNames.map(() =>
      this.sig.kvDtype === 'float16'
        ? new ort.Tensor('float16', new Uint16Array(0), dims)
        : new ort.Tensor('float32', new Float32Array(0), dims),
    )
    // An in-place cache grows towards the context within one block (KvCache's reservePositions).
    return new KvCache(tensors, [], this.sig.inPlace ? this.contextLength : 0)
  }

  /** Makes room in `kv` for `positions` before a long prefill (in-place caches only). */
  reserve(kv: KvCache, positions: number): void {
    if (this.sig.inPlace) kv.reserve(this.capacityFor(Math.min(positions, this.contextLength)))
  }

  /**
   * Runs `tokens` at positions kv.nPast.. and adds their keys and values to `kv`.
   * Returns a view valid until the next call: [vocab] for 'last', [tokens, vocab] for 'all'.
   */
  async forward(kv: KvCache, tokens: ArrayLike<number>, opts: ForwardOptions): Promise<Float32Array> {
    const n = tokens.length
    const nPast = kv.nPast
    const total = nPast + n
    if (n === 0) throw new AppError('INTERNAL', 'forward needs at least one token')
    if (total > this.contextLength) {
      throw new AppError('CONTEXT_OVERFLOW', `${total} tokens exceed the model's context of ${this.contextLength}`)
    }
    this.cover(total)
    if (n > this.ids.length) this.ids = intArray(this.sig.ids, Math.max(n, this.ids.length * 2))
    for (let i = 0; i < n; i++) setInt(this.ids, i, tokens[i]!)
    if (!this.sig.inPlace) kv.compact()

    const feeds: Record<string, ort.Tensor> = {
      [NAMES.inputIds]: new ort.Tensor(this.sig.ids, this.ids.subarray(0, n), [1, n]),
    }
    // Capacity plus new tokens stays within the context, as some exports' position tables need:
    // near the end of the context the spare positions are dropped first (one copy).
    if (this.sig.inPlace && nPast > 0 && kv.capacity + n > this.contextLength) kv.compact()
    // A pass attends over all the room it is fed: after a truncate (an edit early in a long chat)
    // the spare positions are given back rather than attended over, masked, on every step.
    if (this.sig.inPlace && kv.capacity > this.capacityFor(total) + GROW_STEP) kv.compact(this.capacityFor(total))
    // 'append': a cache with nothing in it is fed empty, so a first pass is the export's own.
    // 'split' attends over the cache on its own, and over zero positions an export's Reshape would
    // read the 0 as "copy this dimension" (ONNX semantics): a fresh cache gets one position, fed
    // masked (room for the pass's tokens is made after it: every position fed is attended over).
    const feedEmpty = this.kvUpdate === 'append' && nPast === 0
    if (this.kvUpdate === 'split' && kv.capacity === 0) kv.reserve(1)
    const fedPast = feedEmpty ? this.empty : kv.tensors
    const fedLength = feedEmpty ? 0 : kv.capacity
    if (this.sig.mask) {
      feeds[NAMES.attentionMask] = this.sig.inPlace ? this.maskTensor(nPast, fedLength, n) : new ort.Tensor(this.sig.mask, this.ones.subarray(0, total), [1, total])
    }
    if (this.sig.positions) feeds[NAMES.positionIds] = this.positionTensor(nPast, n, opts.positionShift ?? 0)
    if (this.sig.logitsToKeep) {
      feeds[this.sig.logitsToKeep.name] = (opts.logits === 'last' ? this.keepLast : this.keepAll) as ort.Tensor
    }
    if (this.sig.useCacheBranch) feeds[NAMES.useCacheBranch] = this.branch[nPast > 0 ? 1 : 0]
    for (let i = 0; i < this.sig.pastNames.length; i++) feeds[this.sig.pastNames[i]!] = fedPast[i]!

    const out = await this.session.run(feeds, opts.quiet ? QUIET : {})
    const kvOut = this.sig.presentNames.map((name) => out[name]!)
    if (this.sig.inPlace) kv.write(kvOut, tokens, (needed) => this.capacityFor(needed))
    else kv.advance(kvOut, tokens)

    const logits = out[NAMES.logits]!
    const rows = logits.dims[1]!
    const data = logits.data as Float32Array | Uint16Array
    if (opts.logits === 'all') {
      if (rows !== n) throw new AppError('INTERNAL', `expected logits for ${n} positions, got ${rows}`)
      return data instanceof Float32Array ? data : halfToFloat(data, new Float32Array(data.length))
    }
    const last = data.subarray((rows - 1) * this.vocab, rows * this.vocab)
    return last instanceof Float32Array ? last : halfToFloat(last, this.logits32)
  }

  /**
   * Whether the graph takes several new tokens on top of a non-empty cache; some exports fail
   * there (an Expand of a [new tokens] shape to [past + new tokens], which broadcasts only for one
   * new token or an empty cache). Runs two tiny passes on a scratch cache.
   */
  async probeMultiTokenPass(): Promise<boolean> {
    const kv = this.emptyCache()
    try {
      await this.forward(kv, [0, 1], { logits: 'last', quiet: true })
      await this.forward(kv, [1, 0], { logits: 'last', quiet: true })
      return true
    } catch {
      return false
    } finally {
      kv.dispose()
    }
  }

  /** Ends onnxruntime's profiling (profileFilePrefix) and writes its file. */
  endProfiling(): void {
    this.session.endProfiling()
  }

  async release(): Promise<void> {
    await this.session.release()
  }

  /** Positions the attention_mask and position_ids buffers cover now: the furthest pass so far, at least FIRST_POSITIONS. */
  get coveredPositions(): number {
    return this.arange.length
  }

  /**
   * Positions a cache holds to fit `needed`: in-place caches grow in steps, to at most one short
   * of the context (so a last decode pass still fits: see forward).
   */
  capacityFor(needed: number): number {
    if (!this.sig.inPlace) return needed
    return Math.max(needed, Math.min(this.contextLength - 1, Math.ceil(needed / GROW_STEP) * GROW_STEP))
  }

  /** Grows `ones` and `arange` to cover positions 0 .. total - 1, doubling, at most to the context. */
  private cover(total: number): void {
    const from = this.arange.length
    if (total <= from) return
    const n = Math.min(this.contextLength, Math.max(total, 2 * from))
    const ones = intArray(this.sig.mask ?? 'int64', n)
    const arange = intArray(this.sig.positions ?? 'int64', n)
    for (let i = 0; i < n; i++) {
      setInt(ones, i, 1)
      setInt(arange, i, i)
    }
    this.ones = ones
    this.arange = arange
  }

  /** attention_mask for an in-place pass: [nPast cached positions | spare ones, masked | new tokens]. */
  private maskTensor(nPast: number, capacity: number, n: number): ort.Tensor {
    const length = capacity + n
    if (this.mask.length < length) this.mask = intArray(this.sig.mask as IntType, Math.max(length, this.mask.length * 2))
    const m = this.mask
    if (m instanceof BigInt64Array) {
      m.fill(1n, 0, nPast)
      m.fill(0n, nPast, capacity)
      m.fill(1n, capacity, length)
    } else {
      m.fill(1, 0, nPast)
      m.fill(0, nPast, capacity)
      m.fill(1, capacity, length)
    }
    return new ort.Tensor(this.sig.mask as IntType, m.subarray(0, length), [1, length])
  }

  private positionTensor(nPast: number, n: number, shift: number): ort.Tensor {
    const type = this.sig.positions as IntType
    if (shift === 0) return new ort.Tensor(type, this.arange.subarray(nPast, nPast + n), [1, n])
    const ids = intArray(type, n)
    for (let i = 0; i < n; i++) setInt(ids, i, nPast + i + shift)
    return new ort.Tensor(type, ids, [1, n])
  }
}

let halfTable: Float32Array | null = null

/** fp16 bits to fp32 through a 64K-entry table, built on first use. */
function halfToFloat(src: Uint16Array, dst: Float32Array): Float32Array {
  halfTable ??= buildHalfTable()
  for (let i = 0; i < src.length; i++) dst[i] = halfTable[src[i]!]!
  return dst
}

function buildHalfTable(): Float32Array {
  const table = new Float32Array(65536)
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1
    const exp = (h >> 10) & 0x1f
    const frac = h & 0x3ff
    table[h] =
      exp === 0 ? sign * 2 ** -14 * (frac / 1024)
      : exp === 31 ? (frac ? NaN : sign * Infinity)
      : sign * 2 ** (exp - 15) * (1 + frac / 1024)
  }
  return table
}
